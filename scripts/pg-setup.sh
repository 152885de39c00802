#!/usr/bin/env bash
# Prepares the local PostgreSQL 15 for the store's tests, and prints the URL to use:
#   export NOOPS_TEST_PG_URL="$(scripts/pg-setup.sh | tail -n 1)"
#
# Idempotent: starts the cluster only if it is down, creates role `noops` (password `noops`,
# LOGIN CREATEDB) and database `noops_test` only if they are missing. The tests create and drop
# their own throw-away databases (noops_t_*) with that role, hence CREATEDB.
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
PG_PORT="${PG_PORT:-5432}"
ROLE=noops
PASSWORD=noops
DB=noops_test
# Seconds to wait for the server to accept connections after a start (a cold start on a
# loaded 2-core CI machine takes a few seconds; 60 leaves room without hanging forever).
START_DEADLINE_S=60

# Runs a command as the postgres OS user (local connections use peer authentication).
as_postgres() {
  if [ "$(id -un)" = postgres ]; then
    "$@"
  elif [ "$(id -u)" -eq 0 ]; then
    # runuser/su need one command string; quote each argument.
    su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
  else
    sudo -u postgres "$@"
  fi
}

psql_admin() {
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@"
}

# 1. Start the cluster if it is not running.
if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
  if ! pg_lsclusters -h "$PG_VERSION" "$PG_CLUSTER" | awk '{print $4}' | grep -qx online; then
    echo "starting PostgreSQL $PG_VERSION/$PG_CLUSTER" >&2
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
  fi
  deadline=$(( $(date +%s) + START_DEADLINE_S ))
  until pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "PostgreSQL did not accept connections within ${START_DEADLINE_S}s; see /var/log/postgresql/postgresql-${PG_VERSION}-${PG_CLUSTER}.log" >&2
      exit 1
    fi
    sleep 0.5
  done
fi

# 2. Make sure password logins over 127.0.0.1 are allowed (Debian's default pg_hba.conf has a
#    scram-sha-256 line for 127.0.0.1/32; add one only if no rule for that address exists).
HBA_FILE="$(psql_admin -At -c 'show hba_file')"
if ! as_postgres grep -Eq '^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+(scram-sha-256|md5|password)' "$HBA_FILE"; then
  echo "adding a scram-sha-256 rule for 127.0.0.1/32 to $HBA_FILE" >&2
  as_postgres sh -c "printf '%s\n' 'host all all 127.0.0.1/32 scram-sha-256' >> '$HBA_FILE'"
  psql_admin -c 'select pg_reload_conf()' >/dev/null
fi

# 3. The role (the password is (re)set every run so that a half-made role still works).
psql_admin <<SQL
do \$\$
begin
  if not exists (select 1 from pg_roles where rolname = '${ROLE}') then
    create role ${ROLE} login createdb password '${PASSWORD}';
  else
    alter role ${ROLE} login createdb password '${PASSWORD}';
  end if;
end
\$\$;
SQL

# 4. The database (CREATE DATABASE cannot run inside DO, hence \gexec).
psql_admin <<SQL
select 'create database ${DB} owner ${ROLE}'
where not exists (select 1 from pg_database where datname = '${DB}') \gexec
SQL

URL="postgres://${ROLE}:${PASSWORD}@127.0.0.1:${PG_PORT}/${DB}"

# 5. Check that the URL really works with a password over TCP.
if ! PGPASSWORD="$PASSWORD" psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$ROLE" -d "$DB" -At -c 'select 1' >/dev/null; then
  echo "cannot log in as ${ROLE} over 127.0.0.1; check $HBA_FILE" >&2
  exit 1
fi

echo "$URL"

/**
 * The plain patterns of names in packages (processes, environment variables, runtimes) and the
 * stop signals, without any schema library: the agent and the runtimes code check names with
 * these and never load zod (see fields.ts for the schemas built on them).
 */

/**
 * A process name: lower-case letters, digits, `-` and `_`, starting with a letter or digit.
 * `_` is allowed because Procfiles allow it (Heroku: `[A-Za-z0-9_-]+`); upper case is folded to
 * lower case when a Procfile is read, so `Web` and `web` are the same process.
 */
export const PROCESS_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** An environment variable name, as POSIX shells accept it. */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A secret's name (`noops secret set NAME`, `env: { X: { secret: NAME } }`): letters, digits, `_`,
 * `.` and `-`, starting with a letter, at most 128; `DB_PASSWORD` and `github-token` both fit.
 */
export const SECRET_NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

/**
 * The signals a process may ask to be stopped with. SIGTERM is the usual one; SIGQUIT (nginx,
 * unicorn), SIGINT and SIGWINCH (apache) are the graceful stops of some servers.
 */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGKILL'] as const;

/**
 * A runtime's name (`node`, `jdk`, `maven`, `go`): it names a folder on every host
 * (`runtimes/<name>/`), so lower-case letters, digits, `-`, `_` and `.`, starting with a letter or digit.
 */
export const RUNTIME_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * A runtime's version (`18.20.4`, `17`, `3.9.6`, `17.0.11+9`): it names a folder too, so letters,
 * digits, `.`, `_`, `+` and `-`, starting with a letter or digit (never `.` or `..`).
 */
export const RUNTIME_VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/**
 * One error type for the whole system, with a registry of stable codes.
 *
 * Every code has a default message that tells the user what to do. Codes are never reused:
 * add new ones at the end of their group.
 *
 * @example
 *   throw new NoopsError('NOOPS_E_TAG_INVALID', `"${input}" is not a tag: ...`);
 */
export const ERROR_CODES = {
  // input
  NOOPS_E_TAG_INVALID: {
    status: 400,
    hint: 'a tag is key.value pairs joined by "_", e.g. cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api_cluster.prod',
  },
  NOOPS_E_TAG_AMBIGUOUS: { status: 409, hint: 'give more of the tag so that it names one node' },
  NOOPS_E_TAG_UNKNOWN: { status: 404, hint: 'give the full tag (cop down to the level you mean) to create the node' },
  NOOPS_E_SELECTOR_INVALID: { status: 400, hint: 'a selector is key=value pairs joined by ",", e.g. cop=xiaomi,owt=miliao' },
  NOOPS_E_INPUT: { status: 400, hint: 'check the arguments; `noops help COMMAND` shows them' },
  NOOPS_E_GIT_URL: { status: 400, hint: 'give a git URL or path that does not begin with "-"' },
  NOOPS_E_GIT_REF: { status: 400, hint: 'give a commit, tag or branch name that does not begin with "-"' },
  NOOPS_E_MANIFEST: { status: 400, hint: 'fix noops.yaml; the message names the key and line' },
  NOOPS_E_CLUSTER_CONF: { status: 400, hint: 'fix cluster.conf; the message names the key and line' },
  NOOPS_E_WATCHES: { status: 400, hint: "fix the host's watches file (ROOT/watches.yaml); the message names the key and line" },
  NOOPS_E_STORE_URL: {
    status: 400,
    hint: 'give --db as postgres://USER:PASS@HOST:5432/DB (or postgresql://), sqlite:/abs/path/noops.db, or a file path ending in .db; without --db the server keeps SQLite in its data folder',
  },
  NOOPS_E_STRATEGY_FUNC: {
    status: 400,
    hint: 'write the function as Falcon does: all(#3), max(#3), min(#3), sum(#3), avg(#3), diff(#3), pdiff(#3), stddev(#10), lookup(#2,3), kdiff(#3,3) or kpdiff(#3,3)',
  },
  NOOPS_E_STRATEGY_INVALID: {
    status: 400,
    hint: 'a strategy is --metric M --func "all(#3)" --op "==" --right 0 --max 3 --priority 0-6 [--tags k=v,...] [--run HH:MM-HH:MM]; the message names the field (docs/monitoring.md)',
  },
  NOOPS_E_STRATEGY_TEST: { status: 400, hint: 'fix the strategy test file; the message names the case and the field (docs/monitoring.md)' },
  NOOPS_E_BALANCER_INVALID: {
    status: 400,
    hint: 'a pool is NAME -t SELECTOR --host LBHOST and --driver haproxy --socket PATH --backend BACKEND, nginx --file PATH, or keepalived --file PATH --vip ADDR:PORT; paths are absolute (docs/balancers.md)',
  },
  // auth
  NOOPS_E_UNAUTHORIZED: { status: 401, hint: 'pass a token with --token, NOOPS_TOKEN, or ./.noops/admin.token' },
  NOOPS_E_FORBIDDEN: { status: 403, hint: 'this token may not do that; ask for a token whose scope covers the tag' },
  NOOPS_E_HOST_TAKEN: {
    status: 409,
    hint: 'an admin approves the join (`noops host approve NAME`) or removes the old host (`noops host rm NAME`); or start the agent with another --name',
  },
  NOOPS_E_ROOT_NOT_ALLOWED: {
    status: 403,
    hint: "the server's admin allows root under the service (`noops root allow --scope TAG`), or the process names another `user:` in noops.yaml",
  },
  NOOPS_E_PEER_URL: {
    status: 403,
    hint: 'leave --peer-url out (peers reach the agent where the server sees it), give one at that address, state it when the agent joins, or start the server with --trust-peer-urls (docs/packages-p2p.md)',
  },
  // things
  NOOPS_E_NOT_FOUND: { status: 404, hint: 'check the name; list what exists with the matching ls command' },
  NOOPS_E_RELEASE_UNKNOWN: { status: 404, hint: 'build it first with `noops build`, or list releases with `noops releases -t TAG`' },
  NOOPS_E_CLUSTER_UNKNOWN: { status: 404, hint: 'set its hosts first with `noops cluster set -t TAG --hosts h1,h2`' },
  NOOPS_E_HOST_UNKNOWN: { status: 404, hint: 'start `noops agent` on that host first; `noops hosts` lists the joined ones' },
  NOOPS_E_NO_PREVIOUS: { status: 409, hint: 'name a version with --to; `noops history -t TAG` lists them' },
  NOOPS_E_WATCH_UNKNOWN: { status: 404, hint: '`noops ctl status` lists the watches of this host: NAME, TAG/NAME or a tag' },
  NOOPS_E_RUNTIME_UNKNOWN: {
    status: 404,
    hint: 'add it with `noops runtime add NAME VERSION FILE|URL`; `noops runtime ls` lists the known ones',
  },
  NOOPS_E_RUNTIME_EXISTS: { status: 409, hint: 'a runtime version is immutable: add the new content under a new version' },
  NOOPS_E_SECRET_UNKNOWN: {
    status: 404,
    hint: 'set it with `noops secret set NAME --scope TAG` (at the job or a node above it); `noops secret ls` lists the names',
  },
  NOOPS_E_SECRET_IN_USE: { status: 409, hint: 'deploy releases that no longer name it first, or set it at another scope that covers them' },
  NOOPS_E_SECRET_KEY: {
    status: 500,
    hint: 'every server of one database needs the same DATA/secret.key; restore it from a backup, or set the secrets again',
  },
  NOOPS_E_STRATEGY_UNKNOWN: {
    status: 404,
    hint: '`noops strategy ls`, `noops nodata ls` and `noops maintain ls` list what exists with its id',
  },
  NOOPS_E_BALANCER_UNKNOWN: { status: 404, hint: '`noops lb ls` lists the pools; `noops lb set NAME ...` makes one' },
  // build
  NOOPS_E_GIT_CLONE: { status: 422, hint: 'check that the repository exists and that the server can reach it' },
  NOOPS_E_GIT_CHECKOUT: { status: 422, hint: 'check that the commit exists in the repository' },
  NOOPS_E_BUILD_FAILED: { status: 422, hint: 'read the build output above, fix the build, and try again' },
  NOOPS_E_TEST_FAILED: { status: 422, hint: 'read the test output above; a failing test makes no release' },
  NOOPS_E_NO_PROCESSES: { status: 422, hint: 'add a Procfile or a `processes:` section to noops.yaml' },
  NOOPS_E_BUILD_SANDBOX: {
    status: 503,
    hint: "install bubblewrap (`apt-get install bubblewrap`) or run the server as root so builds run sandboxed; with `--build-sandbox container`, start the Docker Engine (`docker info`); or start the server with `--build-sandbox none` to run them as the server's own user",
  },
  // packages
  NOOPS_E_SHA256_MISMATCH: { status: 422, hint: 'the package was damaged or replaced; build it again' },
  NOOPS_E_PACKAGE_UNSAFE: { status: 422, hint: 'a package entry would land outside its folder; rebuild it without such paths' },
  NOOPS_E_PACKAGE_INVALID: { status: 422, hint: 'the package does not follow the release-package spec (docs/package-spec.md)' },
  // deploys
  NOOPS_E_DEPLOY_LOCKED: { status: 409, hint: 'wait for the running deploy to end, or abort it' },
  NOOPS_E_SEVERAL_SERVERS: {
    status: 409,
    hint: 'run several servers on one PostgreSQL database (`noops server --db postgres://...`, docs/servers.md); on SQLite, stop the other server first',
  },
  NOOPS_E_NO_LEADER: {
    status: 503,
    hint: 'no server applied it in time: the server leading that loop (rollouts, the scheduler) may have just died (another takes over within seconds); see `noops servers`, then try again',
  },
  NOOPS_E_FENCED: {
    status: 503,
    hint: 'this server lost its lease on a control loop (paused, or cut from the database); the server that leads it now carries on, see `noops servers`',
  },
  NOOPS_E_DEPLOY_FAILED: {
    status: 422,
    hint: "`noops deploy status -t TAG` shows each host's result and the rollout's log; `noops ps -t TAG` shows what runs now",
  },
  NOOPS_E_DEPLOY_TIMEOUT: { status: 504, hint: 'some hosts did not report the new release in time; see `noops ps -t TAG`' },
  NOOPS_E_RESTART_FAILED: {
    status: 422,
    hint: 'see `noops logs -t TAG --host HOST` and `noops events -t TAG`; the hosts after it were not restarted',
  },
  NOOPS_E_DEPLOY_STATE: { status: 409, hint: 'see where the deployment is with `noops deploy status -t TAG`' },
  NOOPS_E_NO_DEPLOYMENT: {
    status: 404,
    hint: 'start one with `noops deploy -t TAG -v VERSION`; `noops history -t TAG` lists the past ones',
  },
  NOOPS_E_RUNTIME_UNAVAILABLE: {
    status: 409,
    hint: "add the runtime for the hosts' platform (`noops runtime add --platform`), or fix the hosts named; nothing was changed",
  },
  NOOPS_E_ADOPT_NOTHING: {
    status: 409,
    hint: "`noops hosts --json` shows each host's trust; only a host whose agent refuses this server can be adopted (docs/trust.md)",
  },
  NOOPS_E_ADOPT_CONFIRM: {
    status: 409,
    hint: 'read what would change; run again with --yes to go ahead, or first deploy what the host should keep running (docs/trust.md)',
  },
  NOOPS_E_UNDEPLOY_CONFIRM: {
    status: 409,
    hint: 'read what would stop; run again with --yes to stop it (an undeploy of those hosts, recorded in `noops history`), or keep the hosts in the cluster; nothing was changed',
  },
  NOOPS_E_NOTHING_RUNS: { status: 409, hint: '`noops ps -t TAG` shows what runs; there is nothing of this cluster to stop' },
  NOOPS_E_RELEASE_EXISTS: { status: 409, hint: "a release is immutable: give the new package another version (its manifest's commit)" },
  NOOPS_E_PACKAGE_FETCH: {
    status: 422,
    hint: 'check that the URL is http(s), answers 200 with the package, and is reachable from the noops server',
  },
  // transport
  NOOPS_E_SERVER_UNREACHABLE: { status: 503, hint: 'start it with `noops server` (or `noops up`), or set --server / NOOPS_SERVER' },
  NOOPS_E_INTERNAL: { status: 500, hint: 'this is a bug in noops; the server log has the details' },
  NOOPS_E_AGENT_UNREACHABLE: {
    status: 503,
    hint: "start `noops agent` with this --root (the control socket is ROOT/run/ctl.sock), or give the agent's --root",
  },
  NOOPS_E_COMMAND_TIMEOUT: { status: 504, hint: "the host's agent did not answer in time; see `noops hosts` (is it up?)" },
  // tls
  NOOPS_E_TLS_REQUIRED: {
    status: 400,
    hint: 'serve with TLS: --tls auto (a local CA in DATA/tls/) or --tls-cert FILE --tls-key FILE; or listen on 127.0.0.1; --insecure serves plain HTTP anyway (tokens and packages then cross the network readable)',
  },
  NOOPS_E_TLS_FILES: { status: 400, hint: 'give a readable PEM certificate and its own private key (docs/tls.md)' },
  NOOPS_E_TLS_UNTRUSTED: {
    status: 502,
    hint: "give the CA that signed the server's certificate: --ca FILE or NOOPS_CA (`noops server` prints its path and fingerprint; with --tls auto it is DATA/tls/ca.pem)",
  },
  NOOPS_E_TLS_MISMATCH: {
    status: 502,
    hint: "the address's scheme does not match the server: https:// for a server started with --tls, http:// for one without",
  },
  // signatures
  NOOPS_E_SIGNING_KEY: {
    status: 500,
    hint: "every server of one database signs with the same key: copy DATA/signing.key (mode 0600) from a server of this database into this server's data folder (docs/trust.md#signed-releases)",
  },
  NOOPS_E_SIGNATURE_INVALID: {
    status: 422,
    hint: "the release was changed after the server signed it (in the database, or on the way): build it again and deploy the new release; `noops releases --json` shows each release's signature",
  },
  // limits
  NOOPS_E_REPORT_TOO_LARGE: {
    status: 413,
    hint: 'the agent reported more than the server takes in one report (docs/limits.md); run fewer processes per host or upgrade the agent',
  },
  NOOPS_E_RATE_LIMITED: {
    status: 429,
    hint: 'too many requests from this caller; wait as long as the Retry-After header says, then try again',
  },
  NOOPS_E_PACKAGE_TOO_LARGE: {
    status: 422,
    hint: 'the package unpacks to more bytes or files than a host takes (docs/limits.md); leave caches and test data out of the release',
  },
  NOOPS_E_STORE_BUSY: {
    status: 503,
    hint: 'another process holds the database (a backup, sqlite3 at a console); nothing was changed: try again once it lets go',
  },
  NOOPS_E_COMMANDS_FULL: {
    status: 429,
    hint: 'this host has too many commands waiting for its agent; wait for them to end (`noops hosts`: is it up?) and try again',
  },
  // store
  NOOPS_E_STORE_OPEN: {
    status: 503,
    hint: 'check that the database --db names is running and reachable from this host, and that its user may create tables (the server migrates the schema when it starts); the message names the cause',
  },
  NOOPS_E_HISTORY_BACKEND: {
    status: 502,
    hint: 'check that the VictoriaMetrics `noops server --victoria-metrics URL` names is running and reachable (GET URL/health answers OK); the message names the cause',
  },
  // naming
  NOOPS_E_DNS_LISTEN: {
    status: 503,
    hint: 'another program holds that address (a Consul agent listens on 8600): give `--dns HOST:PORT` another port, or `--dns off`',
  },
  // balancers (the agent's side)
  NOOPS_E_BALANCER_DRIVE: {
    status: 502,
    hint: "check the balancer on its host: haproxy's `stats socket PATH level admin` and the backend, nginx's pid file, keepalived's file (docs/balancers.md#on-the-balancers-host); the message names the cause",
  },
  // load balancers (the server's side)
  NOOPS_E_DRAIN_FAILED: {
    status: 503,
    hint: "a pool's balancer did not follow: check its host is up and its agent's report (`noops lb show NAME --json`: report.ok, report.error); the message names the pool",
  },
  // network (containers' addresses)
  NOOPS_E_NETWORK_INVALID: {
    status: 400,
    hint: 'give --pool A.B.C.D/N (the first address of its block, outside 127/8, 0/8, 169.254/16 and 224/3) and --per-host P (longer than N, at most 30); --driver macvlan needs --parent IF, bridge takes none (docs/containers.md#network-and-addresses)',
  },
  NOOPS_E_NETWORK_IN_USE: {
    status: 409,
    hint: 'stop the containers on the hosts named first (undeploy their jobs, or deploy them with driver: process), or choose a pool that keeps their subnets (a wider block holding the old one); docs/containers.md#network-and-addresses',
  },
  NOOPS_E_NETWORK_FULL: {
    status: 409,
    hint: 'every subnet of the pool is given: set a wider pool that holds the old one (`noops network set --pool ...`), or a longer --per-host; `noops network show` lists who holds what',
  },
  NOOPS_E_NETWORK_UNSET: {
    status: 404,
    hint: 'no address pool is set: the admin sets one with `noops network set --pool CIDR --per-host 24`',
  },
  // containers (the agent's side)
  NOOPS_E_CONTAINER: {
    status: 502,
    hint: 'check the Docker Engine on the host (`docker info`, /var/run/docker.sock) and that the image is there (`docker images`: nothing is pulled); docs/containers.md',
  },
  NOOPS_E_VOLUME_UNKNOWN: {
    status: 404,
    hint: '`noops volume ls HOST` lists the volumes of noops on the host; a volume noops did not make is never listed nor removed',
  },
  NOOPS_E_VOLUME_IN_USE: {
    status: 409,
    hint: 'a container (running or stopped) still mounts it: undeploy its job (or deploy a release without that volume) first, then remove it',
  },
  NOOPS_E_NOT_SCHEDULED: {
    status: 409,
    hint: 'give the cluster a count first: `noops cluster set -t TAG --count N` (a cluster has either hosts or a count)',
  },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Codes that nothing throws any more, each with the reason. They stay in ERROR_CODES (a client
 * may still decode them from an older server) and in docs/errors.md, and are never reused.
 * src/errors/registry.test.ts keeps this list true: a code here is thrown nowhere.
 */
export const RETIRED_CODES: Partial<Record<ErrorCode, string>> = {
  NOOPS_E_DEPLOY_TIMEOUT:
    'a batch that runs past the policy\'s `timeout` fails its unhealthy hosts; the deploy then ends failed (NOOPS_E_DEPLOY_FAILED) with "not healthy within ..." as the reason',
};

/** The one error type. `message` says what is wrong; `hint` says how to fix it. */
export class NoopsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly hint: string;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NoopsError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.hint = options?.hint ?? ERROR_CODES[code].hint;
  }

  toJSON(): { code: ErrorCode; message: string; hint: string } {
    return { code: this.code, message: this.message, hint: this.hint };
  }
}

/** True when `code` is a registered error code (used when decoding errors from the API). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * The release package's manifest (`manifest.json`, at the top of every package and stored
 * beside it on the server). It is all an agent needs to run the release.
 */

/** One process of a release, as the supervisor runs it. */
export interface ProcessSpec {
  /** name from the Procfile or noops.yaml: web, worker, ... ([a-z0-9][a-z0-9_-]*, see PROCESS_NAME_RE) */
  name: string;
  /** run with `/bin/sh -c`, in the release folder */
  command: string;
  /**
   * 'auto': the agent picks a free port and passes it as PORT; a number: fixed, passed as PORT;
   * null: the process listens on nothing. A Procfile's `web` gets 'auto'.
   */
  port: number | 'auto' | null;
  /** extra environment, over the release's `env` */
  env: Record<string, string>;
  /**
   * extra environment whose values are secrets, by the secret's name (`{ DB_PASSWORD: "shop-db" }`),
   * over the release's `env` and `secretEnv`; the agent gets the values with its desired state.
   * Absent: none.
   */
  secretEnv?: Record<string, string>;
  /** signal sent to the process group to stop it (default SIGTERM) */
  stopSignal: string;
  /** seconds between the stop signal and SIGKILL (default 10) */
  stopTimeout: number;
  /** seconds a new process must stay up before it counts as up (default 2) */
  startGrace: number;
  // Supervision (issue 3). Absent in the manifests of releases built before them: the agent
  // then applies the defaults named beside each.
  /** when a process that ended is started again (default 'always') */
  restart?: 'always' | 'on-failure' | 'never';
  /** run instead of sending stopSignal (SIGKILL still follows stopTimeout); null: none */
  stopCommand?: string | null;
  /** run as this user (the agent must run as root); null: the agent's user */
  user?: string | null;
  /** restarts too often -> flapping; false: never flapping (default: see DEFAULT_FLAPPING) */
  flapping?: ManifestFlapping | false;
  /** size-based rotation of the process's logs (default 10 MiB, 5 kept) */
  logs?: ManifestLogs;
  /** checks while the process is up; each may restart it (default none) */
  conditions?: ManifestCondition[];
  /**
   * How the agent checks that the process is healthy. Absent: `tcp` for a process with a
   * port, `none` for one without (see `healthCheckOf`).
   */
  healthcheck?: HealthCheck;
  /** this process's own limits under the container driver (over the manifest's `resources`) */
  resources?: ManifestResources;
}

/** god's flapping, in seconds. */
export interface ManifestFlapping {
  /** this many restarts within `within` seconds make the process flapping */
  times: number;
  within: number;
  /** seconds before a flapping process is tried again */
  retryIn: number;
  /** retries allowed within `retryWithin` seconds; the next flap gives up */
  retryTimes: number;
  retryWithin: number;
}

/** Log rotation. */
export interface ManifestLogs {
  /** bytes; 0 never rotates */
  maxSize: number;
  /** rotated files kept */
  keep: number;
}

/** What every condition has. */
export interface ManifestConditionBase {
  /** seconds between checks */
  interval: number;
  /** fires when `times` of the last `of` checks fail */
  times: number;
  of: number;
  action: 'restart' | 'event';
}

/** A condition in manifest.json. */
export type ManifestCondition = ManifestConditionBase &
  (
    | { kind: 'memory' /** bytes */; above: number }
    | { kind: 'cpu' /** percent of one core */; above: number }
    | {
        kind: 'http';
        /** a path on the process's own port (http://127.0.0.1:PORT/path), or null when `url` is given */
        path: string | null;
        url: string | null;
        codeIs: number[] | null;
        codeIsNot: number[] | null;
        /** seconds */
        timeout: number;
      }
    | { kind: 'tcp'; host: string /** null: the process's own port */; port: number | null; timeout: number }
    | { kind: 'command'; command: string; timeout: number }
  );

/** A scheduled command of a release, run on every host of the cluster. */
export interface CronSpecManifest {
  /** unique among the release's processes and crons */
  name: string;
  /** cron syntax (5 fields, 6 with seconds, @daily, ...) */
  schedule: string;
  /** IANA time zone of the schedule; null: the host's */
  timezone: string | null;
  /** run with `/bin/sh -c` in the release folder */
  command: string;
  /** extra environment, over the release's `env` */
  env: Record<string, string>;
  /** seconds before a run is stopped; 0: no limit */
  timeout: number;
  user: string | null;
}

/**
 * A process's health check, run by its host's agent every `interval` seconds:
 * - `tcp`: a connection to 127.0.0.1:PORT is accepted
 * - `http`: GET http://127.0.0.1:PORT<path> answers 2xx or 3xx
 * - `command`: `/bin/sh -c command` in the release folder, with the process's environment, exits 0
 * - `none`: the process counts as healthy once it is up
 * A check that takes longer than `timeout` seconds fails.
 */
export type HealthCheck =
  | { type: 'tcp'; interval: number; timeout: number }
  | { type: 'http'; path: string; interval: number; timeout: number }
  | { type: 'command'; command: string; interval: number; timeout: number }
  | { type: 'none' };

/** manifest.json */
export interface ReleaseManifest {
  /** the package spec's version */
  schema: 1;
  /** canonical job tag */
  job: string;
  /** 9-character commit hash */
  version: string;
  /** the full commit hash */
  commit: string;
  repo: string;
  builtAt: string;
  /** how it was built: 'manifest' (noops.yaml), 'procfile', 'node', ... */
  stack: string;
  /** environment for every process */
  env: Record<string, string>;
  /**
   * environment for every process whose values are secrets the server keeps, by the secret's
   * name: `{ DB_PASSWORD: "shop-db" }` (noops.yaml's `env: { DB_PASSWORD: { secret: shop-db } }`).
   * Never the values: those reach only the agents that run the release. Absent: none.
   */
  secretEnv?: Record<string, string>;
  /**
   * the runtimes every process runs with, by name, at exact versions: `{ node: "18.20.4" }`.
   * Absent in packages built before runtimes existed (the same as `{}`).
   */
  runtimes?: Record<string, string>;
  processes: ProcessSpec[];
  /** scheduled commands (absent in releases built before crons: none) */
  crons?: CronSpecManifest[];
  /**
   * Commands the server runs against freshly deployed instances (after the first batch and
   * after the last), from the release's files, with NOOPS_INSTANCES=host:port,... in their
   * environment. One failing fails the deploy. Absent: none.
   */
  deployTests?: string[];
  /** what the service calls (noops.yaml's `depends_on:`), as canonical selectors. Absent: none declared */
  dependsOn?: string[];
  /** seconds its instances' connections may take to end when drained from load-balancer pools (noops.yaml's `drain_timeout`). Absent: the cluster's policy, else 30 */
  drainTimeout?: number;
  /** how its processes run (noops.yaml `driver:`); absent: the cluster's policy, else `process` (docs/containers.md) */
  driver?: 'process' | 'container';
  /** container driver: a local image to run in instead of noops' base image */
  image?: string;
  /** container driver: limits for every process (a process's own `resources` win) */
  resources?: ManifestResources;
  /** container driver: named volumes, kept per instance across releases */
  volumes?: ManifestVolume[];
}

/**
 * Limits the engine enforces on one container (noops.yaml `resources:` at the top, for every
 * process, or under one process). Ignored by the `process` driver.
 */
export interface ManifestResources {
  /** cores (0.5 = half of one), the engine's NanoCpus / 1e9 */
  cpu?: number;
  /** bytes (noops.yaml takes `256M`, `1G`) */
  memory?: number;
  /** the most processes and threads the container may hold */
  pids?: number;
}

/**
 * A named volume mounted into every container of the job (noops.yaml `volumes:`). It outlives
 * releases and rollbacks and is kept per instance: the engine's volume is named
 * `noops-<tag with dots as _>-<process>-<name>` on each host.
 */
export interface ManifestVolume {
  name: string;
  /** the absolute path inside the container */
  path: string;
}

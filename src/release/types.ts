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
  /** signal sent to the process group to stop it (default SIGTERM) */
  stopSignal: string;
  /** seconds between the stop signal and SIGKILL (default 10) */
  stopTimeout: number;
  /** seconds a new process must stay up before it counts as up (default 2) */
  startGrace: number;
  /**
   * How the agent checks that the process is healthy. Absent: `tcp` for a process with a
   * port, `none` for one without (see `healthCheckOf`).
   */
  healthcheck?: HealthCheck;
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
  processes: ProcessSpec[];
  /**
   * Commands the server runs against freshly deployed instances (after the first batch and
   * after the last), from the release's files, with NOOPS_INSTANCES=host:port,... in their
   * environment. One failing fails the deploy. Absent: none.
   */
  deployTests?: string[];
}

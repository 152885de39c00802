/**
 * Messages between the fleet benchmark and its worker processes (Node IPC). Each worker hosts
 * a share of the simulated agents; the parent tells it what to watch for and collects figures.
 */

/** Parent -> worker. */
export type ToWorker =
  | { type: 'start'; server: string; joinToken: string; names: string[]; rootBase: string; logFile: string }
  /** start a measurement window: clear the latency samples */
  | { type: 'window' }
  /** end the window: send the samples */
  | { type: 'collect' }
  /** watch for a release: answer `reached` once every agent received it and reported it up */
  | { type: 'watch'; tag: string; version: string }
  | { type: 'stop' };

/** Worker -> parent. */
export type FromWorker =
  | { type: 'started'; joined: number; failed: string[] }
  | { type: 'window' }
  | { type: 'watching' }
  | { type: 'samples'; samples: WindowSamples }
  | {
      type: 'reached';
      version: string;
      received: number[];
      up: number[];
      /** package bytes downloaded, how many downloads, and of the bytes those in pieces from peers and from the server */
      downloads: { bytes: number; count: number; fromPeers?: number; fromSeed?: number };
    }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

/** What one worker saw during a window. */
export interface WindowSamples {
  /** ms from the window's start to its end, by the worker's clock */
  ms: number;
  /** latency (ms, to the response headers) of each heartbeat (POST /agent/report) */
  report: number[];
  /** heartbeats answered with an error, or not answered */
  reportErrors: number;
  /** the worker's own CPU time in the window (ms), and its event loop delay (ms) */
  cpuMs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

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
  /** how far the watch went: sent when it times out, to say which agents are missing and why */
  | { type: 'status' }
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
      /**
       * package bytes downloaded, how many downloads, and of the bytes those in pieces from peers and
       * from the server; the tickets the agents' peer servers took by signature check and keyed
       */
      downloads: { bytes: number; count: number; fromPeers?: number; fromSeed?: number; signedTickets?: number; keyedTickets?: number };
    }
  | { type: 'status'; status: WatchStatus }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

/** A watch's progress in one worker: how many agents received the release and reported it up, and a few that did not. */
export interface WatchStatus {
  agents: number;
  received: number;
  up: number;
  /** a few agents that have not received it */
  notReceived: string[];
  /** a few agents that received it but have not reported it up, with what they last reported of the tag */
  notUp: { name: string; last: string }[];
}

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

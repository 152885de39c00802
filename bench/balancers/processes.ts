/**
 * The load-balancer benchmark's helpers in processes of their own: the load through each
 * balancer (autocannon at 1,000 requests/s: a busy thread) in one process per balancer, and every
 * observer (HAProxy's and nginx's state polled every 10 ms, the pools every 50 ms, naming's
 * blocking query) in one light process. Before, all of them shared the bench's thread with
 * autocannon at 3,000 requests/s, and a join was timed when that thread got round to noticing
 * it (the client's own p99 latency was 280-1,100 ms): the figure measured the observer, not noops.
 *
 * Each process's times are Date.now(), the same clock in every process of the machine. This file
 * is both the parent's side (`startLoad`, `startObservers`) and the child's (run by `fork` with a
 * role message).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { ApiClient } from '../../src/api/index.js';
import {
  type CannonResult,
  load,
  type Served,
  type Transition,
  watchHaproxy,
  watchNaming,
  watchNginx,
  watchNginxApi,
  watchPool,
} from './observe.js';

/**
 * The nice value of the load's processes. On a fleet the clients are other machines; here
 * autocannon's 3,000 requests a second share the two cores with the server, the agents and the
 * balancers, and a join was late when the kernel ran a load process first. At 10 the load still
 * gets every core left over (each change reports the rate it reached), and noops' path, HAProxy
 * and nginx run first. NOOPS_BENCH_LOAD_NICE=0 runs it as before, to compare.
 */
const LOAD_NICE = Number(process.env.NOOPS_BENCH_LOAD_NICE ?? 10);

/** What the observers' process watches. */
export interface ObserversConfig {
  server: { url: string; token: string };
  haproxy: { socket: string; backend: string };
  nginxFile: string;
  /** nginx --api: its control address and upstream (absent when not measured) */
  nginxApi?: { api: string; upstream: string };
  pools: { haproxy: string; nginx: string; nginxApi?: string };
  /** the selector whose naming answer tells when an instance turned healthy */
  selector: string;
}

/** What the observers saw, once stopped. */
export interface Observed {
  haproxy: Transition[];
  nginx: Transition[];
  nginxApi?: Transition[];
  haPool: Transition[];
  ngPool: Transition[];
  ngaPool?: Transition[];
  appeared: { at: number; endpoint: string }[];
}

type Message =
  | { type: 'observe'; config: ObserversConfig }
  | { type: 'load'; url: string; rate: number }
  | { type: 'ready' }
  | { type: 'stop' }
  | { type: 'observed'; observed: Observed }
  | { type: 'loaded'; served: Served[]; result: CannonResult };

/** Forks this file as a child and sends it its role; resolves once it says it is ready. */
async function child(role: Message): Promise<{ proc: ChildProcess; stop<T extends Message>(type: T['type']): Promise<T>; kill(): void }> {
  const proc = fork(new URL(import.meta.url).pathname, ['--bench-balancers-child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T extends Message>(type: T['type']): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: Message): void => {
        if (m.type !== type) return;
        proc.off('message', onMessage);
        proc.off('exit', onExit);
        resolve(m as T);
      };
      const onExit = (code: number | null): void => reject(new Error(`a benchmark process exited (${code}) before '${type}'`));
      proc.on('message', onMessage);
      proc.once('exit', onExit);
    });
  const ready = next('ready');
  proc.send(role);
  await ready;
  return {
    proc,
    stop: async <T extends Message>(type: T['type']): Promise<T> => {
      const done = next<T>(type);
      proc.send({ type: 'stop' } satisfies Message);
      return await done; // the child exits once it sent it
    },
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** The load through one balancer, in a process of its own: `stop()` answers what it served and autocannon's result. */
export async function startLoad(
  url: string,
  rate: number,
): Promise<{ stop(): Promise<{ served: Map<string, Served>; result: CannonResult }>; kill(): void }> {
  const c = await child({ type: 'load', url, rate });
  return {
    kill: c.kill,
    stop: async () => {
      const m = await c.stop<Extract<Message, { type: 'loaded' }>>('loaded');
      return { served: new Map(m.served.map((s) => [s.key, s])), result: m.result };
    },
  };
}

/** Every observer of a change, in one process of its own: `stop()` answers what they saw. */
export async function startObservers(config: ObserversConfig): Promise<{ stop(): Promise<Observed>; kill(): void }> {
  const c = await child({ type: 'observe', config });
  return { kill: c.kill, stop: async () => (await c.stop<Extract<Message, { type: 'observed' }>>('observed')).observed };
}

/** The child's side: one role, then 'stop'. */
function runChild(): void {
  let stop: (() => Promise<Message>) | undefined;
  // the bench went away (it failed, or was killed): nothing to report to, so stop sending load
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: Message) => {
    if (m.type === 'load') {
      setPriority(LOAD_NICE);
      const l = load(m.url, m.rate);
      stop = async () => {
        const result = await l.stop();
        return { type: 'loaded', served: [...l.served.values()], result };
      };
      process.send!({ type: 'ready' } satisfies Message);
    } else if (m.type === 'observe') {
      const c = m.config;
      const api = new ApiClient(c.server.url, c.server.token);
      const w = {
        haproxy: watchHaproxy(c.haproxy.socket, c.haproxy.backend),
        nginx: watchNginx(c.nginxFile),
        nginxApi: c.nginxApi ? watchNginxApi(c.nginxApi.api, c.nginxApi.upstream) : undefined,
        haPool: watchPool(api, c.pools.haproxy),
        ngPool: watchPool(api, c.pools.nginx),
        ngaPool: c.pools.nginxApi ? watchPool(api, c.pools.nginxApi) : undefined,
        naming: watchNaming(api, c.selector),
      };
      stop = async () => {
        await Promise.all(Object.values(w).map((x) => x?.stop()));
        const observed: Observed = {
          haproxy: w.haproxy.transitions,
          nginx: w.nginx.transitions,
          nginxApi: w.nginxApi?.transitions,
          haPool: w.haPool.transitions,
          ngPool: w.ngPool.transitions,
          ngaPool: w.ngaPool?.transitions,
          appeared: w.naming.appeared,
        };
        return { type: 'observed', observed };
      };
      process.send!({ type: 'ready' } satisfies Message);
    } else if (m.type === 'stop' && stop) {
      void stop().then(
        (answer) => process.send!(answer, () => process.exit(0)),
        (err: Error) => {
          process.stderr.write(`bench: balancers: a benchmark process failed: ${err.stack}\n`);
          process.exit(1);
        },
      );
    }
  });
}

if (process.argv.includes('--bench-balancers-child')) runChild();

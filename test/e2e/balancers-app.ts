/**
 * What the load-balancer tests and benchmark put behind the balancers (issue 16): a small HTTP
 * app in a real git repository (each commit a release that answers with its version and host,
 * an HTTP health check, a graceful stop), and a steady client that sends requests through a
 * balancer and counts what failed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { git } from './harness.js';

/** What the app answers. */
export interface AppAnswer {
  greeting: string;
  version: string;
  /** the host it runs on (from its release folder: the test agents' roots are `.../agent-HOST`) */
  host: string;
  /** the process answering, and its port: a restart changes the one, a deploy may change both */
  pid: number;
  port: number;
  /** when it answered (Date.now() in the app): the benchmark times a first request where it is served */
  at: number;
}

/**
 * A repository whose commits are releases of one `web` process on a port the agent picks, with an
 * HTTP health check every 0.2 s. On SIGTERM it stops accepting, finishes what it holds, and exits.
 */
export function makeBalancedApp(dir: string): { commit(greeting: string): string } {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q');
  writeFileSync(
    join(dir, 'noops.yaml'),
    [
      'processes:',
      '  web:',
      '    command: node server.js',
      '    port: auto',
      '    start_grace: 0.3',
      '    healthcheck:',
      '      http: /health',
      '      interval: 0.2',
      '      timeout: 1',
      '',
    ].join('\n'),
  );
  return {
    commit(greeting) {
      writeFileSync(
        join(dir, 'server.js'),
        `
const http = require('http');
const greeting = ${JSON.stringify(greeting)};
const host = (/\\/agent-([^/]+)\\//.exec(process.env.NOOPS_RELEASE_DIR || '') || [])[1] || 'unknown';
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ greeting, version: process.env.NOOPS_VERSION, host, pid: process.pid, port: Number(process.env.PORT), at: Date.now() }));
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`,
      );
      git(dir, 'add', '-A');
      git(dir, 'commit', '-q', '-m', greeting);
      return git(dir, 'rev-parse', 'HEAD');
    },
  };
}

/** What a steady client saw. */
export interface LoadCount {
  total: number;
  /** answers that were not 2xx, by status */
  non2xx: Record<string, number>;
  /** requests that got no answer (refused, reset, timed out), by message */
  errors: Record<string, number>;
  /** 2xx answers by `version@host` */
  served: Record<string, number>;
}

/** Failed requests in a count: non-2xx answers and errors. */
export function failures(c: LoadCount): number {
  return Object.values(c.non2xx).reduce((a, b) => a + b, 0) + Object.values(c.errors).reduce((a, b) => a + b, 0);
}

/**
 * Sends requests to `url` from `concurrency` loops, one after the other in each loop, until
 * `stop()`; answers the count. `keepAlive` (the default): each loop keeps its connection, as a
 * browser or a service would; false: each request on a new connection (nginx's graceful reload
 * closes the idle kept-alive connections of its old workers, and a request sent on one at that
 * moment fails whatever the pool holds: clients retry such requests, this one counts them).
 */
export function steadyLoad(url: string, concurrency = 4, keepAlive = true): { count: LoadCount; stop(): Promise<LoadCount> } {
  const dispatcher = new Agent({ connections: concurrency, keepAliveTimeout: 30_000, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const count: LoadCount = { total: 0, non2xx: {}, errors: {}, served: {} };
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      count.total += 1;
      try {
        const res = await request(url, { dispatcher, reset: !keepAlive });
        const text = await res.body.text();
        if (res.statusCode < 200 || res.statusCode > 299) count.non2xx[res.statusCode] = (count.non2xx[res.statusCode] ?? 0) + 1;
        else {
          const a = JSON.parse(text) as AppAnswer;
          const key = `${a.version}@${a.host}`;
          count.served[key] = (count.served[key] ?? 0) + 1;
        }
      } catch (err) {
        const m = (err as Error).message;
        count.errors[m] = (count.errors[m] ?? 0) + 1;
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    count,
    async stop() {
      running = false;
      await Promise.all(loops);
      await dispatcher.close();
      return count;
    },
  };
}

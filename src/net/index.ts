/**
 * net/: the lowest layer of networking helpers, depending on node:net only: picking a free TCP
 * port, for a process that asked for `port: auto` (the agent), and for the supervisor's, build's,
 * monitor's, end-to-end and benchmark tests that need a port nobody holds; and reading a
 * listening address (`parseListen`, listen.ts: the server's `--listen` and `--dns`, the agent's
 * `--push-listen`).
 */
import { createServer } from 'node:net';

export { parseListen } from './listen.js';

/** Asks the kernel for a free port on all interfaces (bind to port 0), then releases it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '0.0.0.0', exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The fleet benchmark's TLS variant (NOOPS_BENCH_FLEET_TLS=1): the server runs `--tls auto`, and
 * the lean transports (lean-fetch.ts in the workers, load.ts's generator) speak https pinned to
 * its CA, each with a keep-alive pool as over plain HTTP. The real agents get `--ca`. What differs
 * from a plain run is then TLS alone: handshakes when connections open, and record encryption.
 *
 * The CA reaches the forked workers through NOOPS_BENCH_CA (a file), set once the server made it.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';

/** True when this run measures the fleet over TLS. */
export function tlsVariant(): boolean {
  return process.env.NOOPS_BENCH_FLEET_TLS === '1';
}

let ca: string | undefined;
function benchCa(): string | undefined {
  const file = process.env.NOOPS_BENCH_CA;
  if (file && ca === undefined) ca = readFileSync(file, 'utf8');
  return file ? ca : undefined;
}

/** A keep-alive pool for `url`'s scheme: https pools trust the bench server's CA. */
export function poolFor(url: string, opts: http.AgentOptions): http.Agent {
  return url.startsWith('https:') ? new https.Agent({ ...opts, ca: benchCa() }) : new http.Agent(opts);
}

/** http.request or https.request, as `url` needs (the pool given must be of the same kind). */
export function requestFor(url: string | URL): typeof http.request {
  return String(url).startsWith('https:') ? https.request : http.request;
}

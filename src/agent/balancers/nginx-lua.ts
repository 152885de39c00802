/**
 * nginx without reloads (`noops lb set ... --driver nginx --file F --api ADDR:PORT`): nginx picks
 * each request's member in Lua (noops-balancer.lua, beside this file: Debian's
 * libnginx-mod-http-lua) from a `lua_shared_dict`, and the agent sets a pool's members through a
 * control location on `--api` (PUT /noops/pools/UPSTREAM), at once in every worker. A reload
 * closes the old workers' idle kept-alive client connections, and a client that sends on one at
 * that moment sees it closed: with the API, a pool change never reloads nginx.
 *
 * The file is still written, in the reload mode's upstream format (nginx.ts): the Lua side reads
 * it when nginx starts (`load` in init_by_lua; a reload keeps the shared dict), so a cold nginx
 * serves the pool before the agent speaks, and the body of the PUT is that same text (one format,
 * read by one parser; dropping --api makes the file an `include` again). The control API answers the members with the requests in flight at each, so a drain
 * waits until a member's last request has ended.
 */
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NoopsError } from '../../errors/index.js';
import type { FileKeeper } from './files.js';
import { nginxUpstream } from './nginx.js';
import { CUT, type HeldMember, type PoolOutcome } from './outcome.js';
import type { ValidPool } from './validate.js';

/** The shipped Lua module (src/ is in the package: from dist/agent/balancers/ and src/agent/balancers/, three folders up is the root). */
export const NGINX_LUA_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'src',
  'agent',
  'balancers',
  'noops-balancer.lua',
);
/** The `lua_shared_dict` the module keeps the pools in (noops-balancer.lua's M.DICT). */
export const NGINX_LUA_DICT = 'noops_pools';
/** How long the agent waits for the control API. */
const API_TIMEOUT_MS = 5_000;

type NginxApiPool = Extract<ValidPool, { driver: 'nginx' }> & { api: { address: string; port: number } };

/** The Lua module's text. */
export function nginxLuaModule(): string {
  return readFileSync(NGINX_LUA_FILE, 'utf8');
}

/** `ADDR:PORT`, IPv6 in brackets. */
export function hostPort(a: { address: string; port: number }): string {
  return isIPv6(a.address) ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** One pool of the nginx configuration: its upstream, its file, its control address. */
export interface NginxLuaPool {
  name: string;
  upstream: string;
  file: string;
  /** the control API, `ADDR:PORT` */
  api: string;
}

/**
 * The blocks of nginx's `http { }` that let noops drive `pools` without reloads (`noops lb
 * nginx-conf`): the shared dict, the Lua module (inline, loading each pool's file at start), the
 * log hook that counts requests' ends, one upstream per pool, one control server per address.
 */
export function nginxLuaConf(pools: readonly NginxLuaPool[], module = nginxLuaModule()): string {
  const indent = (text: string, by: string): string =>
    text
      .split('\n')
      .map((l) => (l === '' ? '' : by + l))
      .join('\n');
  const lines: string[] = [
    `# Written by noops for the pool${pools.length > 1 ? 's' : ''} ${pools.map((p) => p.name).join(', ')}: put it in nginx's http { } block.`,
    '# It needs the Lua module (Debian: apt-get install libnginx-mod-http-lua, which loads it).',
    '# noops sets the members through the control server below, without a reload; the files are',
    '# read when nginx starts or reloads. Proxy to a pool with `proxy_pass http://UPSTREAM;`.',
    `lua_shared_dict ${NGINX_LUA_DICT} 1m;    # the pools and the requests in flight (1m holds thousands of members)`,
    'init_by_lua_block {',
    '  package.loaded.noops_balancer = (function()',
    indent(module.trimEnd(), '    '),
    '  end)()',
    ...pools.map((p) => `  require("noops_balancer").load(${JSON.stringify(p.upstream)}, ${JSON.stringify(p.file)})`),
    '}',
    '# every request that went through a pool is counted until it ends (how a drain knows a member is idle)',
    'log_by_lua_block { require("noops_balancer").log() }',
  ];
  for (const p of pools) {
    lines.push(
      `upstream ${p.upstream} {`,
      '  server 0.0.0.1;    # never used: balancer_by_lua_block picks each request a ready member',
      `  balancer_by_lua_block { require("noops_balancer").balance(${JSON.stringify(p.upstream)}) }`,
      '}',
    );
  }
  for (const api of [...new Set(pools.map((p) => p.api))]) {
    lines.push(
      'server {',
      `  listen ${api};    # the control API the noops agent drives (--api): loopback, or an address only the agent reaches`,
      '  client_max_body_size 1m;',
      '  client_body_buffer_size 1m;',
      '  access_log off;',
      '  location /noops/pools/ { content_by_lua_block { require("noops_balancer").control() } }',
      '  location / { return 404; }',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The control API's answer, as the Lua module writes it. */
interface ApiAnswer {
  pool: string;
  version: number;
  /** the last `seq` set (absent: a module from before it, printed by an older `noops lb nginx-conf`: it does not check) */
  seq?: number;
  members: { id: string; address: string; port: number; state: HeldMember['state']; connections: number | null }[];
}

/**
 * The last `seq` given to a PUT: each PUT carries a higher one (the clock in µs, or one more), so
 * that nginx sets a pool only from a PUT newer than the last it set, also across agent restarts.
 */
let lastSeq = 0;
function nextSeq(): number {
  lastSeq = Math.max(lastSeq + 1, Date.now() * 1000);
  return lastSeq;
}

/**
 * One PUT. A kept-alive connection that nginx closed as it was reused (after an error answer, at
 * `keepalive_requests` or `keepalive_timeout`) fails before any answer: the PUT goes once more on
 * a new connection, which is safe since nginx takes a `seq` once. Without this, such a race failed
 * the apply, and a deploy's batch with it (CI saw it once: "other side closed").
 */
async function putOnce(url: string, text: string, signal: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, { method: 'PUT', body: text, signal });
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    if (signal.aborted || !(code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE')) throw err;
    return fetch(url, { method: 'PUT', body: text, signal });
  }
}

/** The control APIs (`ADDR:PORT upstream`) whose module answered a `seq`: it refuses an older PUT, so one may be given up. */
const checksSeq = new Set<string>();

/**
 * PUT the pool's text to its control API; the members nginx holds now, with their requests in
 * flight. Undefined when `cut` aborted first: the PUT may still land, and nginx refuses it once a
 * newer one was set (its `seq` is lower). A PUT refused as older though none was given up (a newer
 * one from before an agent restart whose clock went back) goes again once, above nginx's `seq`.
 */
async function putPool(
  api: { address: string; port: number },
  upstream: string,
  text: string,
  cut?: AbortSignal,
  again = true,
): Promise<ApiAnswer | undefined> {
  const key = `${hostPort(api)} ${upstream}`;
  // only a module that checks `seq` may be given up on: an older one would take the PUT given up after a newer one
  const cutBy = checksSeq.has(key) ? cut : undefined;
  if (cutBy?.aborted) return undefined;
  const url = `http://${hostPort(api)}/noops/pools/${upstream}?seq=${nextSeq()}`;
  const timeout = AbortSignal.timeout(API_TIMEOUT_MS);
  let res: Response;
  try {
    res = await putOnce(url, text, cutBy ? AbortSignal.any([timeout, cutBy]) : timeout);
  } catch (err) {
    if (cutBy?.aborted) return undefined;
    const why = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new NoopsError(
      'NOOPS_E_BALANCER_DRIVE',
      `nginx's control API at ${hostPort(api)} does not answer (${why}): is nginx running with noops' Lua blocks (\`noops lb nginx-conf\`)?`,
    );
  }
  let body: string;
  try {
    body = await res.text();
  } catch (err) {
    if (cutBy?.aborted) return undefined;
    throw new NoopsError(
      'NOOPS_E_BALANCER_DRIVE',
      `nginx's control API at ${hostPort(api)} broke off its answer: ${(err as Error).message}`,
    );
  }
  if (res.status === 409 && again) {
    let newer = Number.NaN;
    try {
      newer = Number((JSON.parse(body) as ApiAnswer).seq);
    } catch {
      // no JSON: the retry goes above our own count only
    }
    if (Number.isSafeInteger(newer)) lastSeq = Math.max(lastSeq, newer);
    return putPool(api, upstream, text, cut, false);
  }
  if (res.status !== 200)
    throw new NoopsError(
      'NOOPS_E_BALANCER_DRIVE',
      `nginx's control API at ${hostPort(api)} refused the pool ${upstream} (${res.status}): ${body.slice(0, 300)}`,
    );
  let answer: ApiAnswer;
  try {
    answer = JSON.parse(body) as ApiAnswer;
  } catch {
    throw new NoopsError('NOOPS_E_BALANCER_DRIVE', `nginx's control API at ${hostPort(api)} answered no JSON: ${body.slice(0, 200)}`);
  }
  if (!Array.isArray(answer?.members))
    throw new NoopsError('NOOPS_E_BALANCER_DRIVE', `nginx's control API at ${hostPort(api)} answered no members: ${body.slice(0, 200)}`);
  if (typeof answer.seq === 'number') checksSeq.add(key);
  else checksSeq.delete(key);
  return answer;
}

/**
 * The pool set through nginx's control API (`cut` aborted: the PUT is given up, when the module
 * checks `seq`, and the apply answers CUT), and its file (what a cold nginx reads) handed to
 * `files`, which writes it atomically when it changed, off this apply's path: the change is live
 * once the PUT answered, and the next change of the pool does not wait for an fsync on a busy
 * disk (it did: 30-74 ms of an apply on a quiet machine); its write starts once the PUT is answered,
as before (an fsync beside the PUT slowed nginx's answer). The PUT goes at every apply (nginx may
 * have restarted from an older file; an unchanged pool is a no-op there). The file is written
 * even when the PUT failed (nginx down: it reads it when it starts). The members reported are
 * nginx's; a failed write of the file is said by the next apply's report (`ok: false`).
 */
export async function applyNginxApiPool(pool: NginxApiPool, files: FileKeeper, cut?: AbortSignal): Promise<PoolOutcome> {
  const content = nginxUpstream(pool.upstream, pool.members, pool.name);
  const failedBefore = files.failure(pool.file);
  // the file once nginx answered (or failed to): its write and fsync must not slow the PUT down; a
  // PUT given up for a newer pool leaves the file to that one
  const answer = await putPool(pool.api, pool.upstream, content, cut).then(
    (a) => {
      if (a !== undefined) files.keep(pool.file, content);
      return a;
    },
    (err: unknown) => {
      files.keep(pool.file, content);
      throw err;
    },
  );
  if (answer === undefined) return CUT;
  return {
    members: answer.members.map((m) => ({
      id: String(m.id),
      state: m.state,
      connections: typeof m.connections === 'number' ? m.connections : null,
    })),
    ...(failedBefore !== undefined && { error: `nginx holds the pool, but its file could not be written: ${failedBefore}` }),
  };
}

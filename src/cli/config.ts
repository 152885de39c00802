/** Where the CLI finds its server, token and CA: flags, then the environment, then ./.noops. */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApiClient, parseServers } from '../api/index.js';
import type { ClientTrust } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import { readCa } from './tls-flags.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:7700';
export const DEFAULT_DATA_DIR = '.noops';

export interface ClientFlags {
  server?: string;
  token?: string;
  ca?: string;
}

/**
 * The servers: --server, NOOPS_SERVER, or the default; a comma-separated list of the servers of
 * one database (`--server https://a:7700,https://b:7700`), checked here (parseServers).
 */
export function serverUrls(flags: ClientFlags): string[] {
  if (flags.server !== undefined) return parseServers(flags.server, '--server');
  const env = process.env.NOOPS_SERVER;
  if (env !== undefined && env !== '') return parseServers(env, 'NOOPS_SERVER');
  return [DEFAULT_SERVER];
}

/** The token: --token, NOOPS_TOKEN, or ./.noops/admin.token (what `noops up` wrote). */
export function token(flags: ClientFlags): string {
  const t = flags.token ?? process.env.NOOPS_TOKEN;
  if (t) return t.trim();
  const file = resolve(DEFAULT_DATA_DIR, 'admin.token');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new NoopsError('NOOPS_E_UNAUTHORIZED', `no token: none given with --token or NOOPS_TOKEN, and ${file} does not exist`);
  }
}

/**
 * The CA an https:// server is verified with: --ca, NOOPS_CA, or ./.noops/tls/ca.pem (what
 * `noops server --tls auto` made), as the admin token is found. None for http://.
 */
export function trust(flags: ClientFlags, servers: readonly string[]): ClientTrust | undefined {
  if (!servers.some((s) => s.startsWith('https:'))) return undefined;
  const file = flags.ca ?? process.env.NOOPS_CA;
  if (file) return { ca: readCa(file) };
  const local = resolve(DEFAULT_DATA_DIR, 'tls', 'ca.pem');
  return existsSync(local) ? { ca: readCa(local) } : undefined;
}

/** The API client of a CLI call: the servers, the token and the CA (a list spreads and fails over). */
export function client(flags: ClientFlags): ApiClient {
  const servers = serverUrls(flags);
  return new ApiClient(servers, token(flags), trust(flags, servers));
}

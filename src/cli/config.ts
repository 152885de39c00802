/** Where the CLI finds its server and token: flags, then the environment, then ./.noops. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApiClient } from '../api/client.js';
import { NoopsError } from '../errors/index.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:7700';
export const DEFAULT_DATA_DIR = '.noops';

export interface ClientFlags {
  server?: string;
  token?: string;
}

export function serverUrl(flags: ClientFlags): string {
  return flags.server ?? process.env.NOOPS_SERVER ?? DEFAULT_SERVER;
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

export function client(flags: ClientFlags): ApiClient {
  return new ApiClient(serverUrl(flags), token(flags));
}

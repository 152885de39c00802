/**
 * Secrets: values a service needs (a database password, an API key, a repository's token) that
 * noops keeps for it without ever showing them. This file is the light, pure part: names, which
 * secret a tag uses, which secrets a release needs, and the environment they make. The
 * encryption at rest is `cipher.ts` (Node's crypto), loaded only by the server.
 *
 *   noops secret set NAME --scope TAG   ->  server: sealed with DATA/secret.key, stored by (scope, name)
 *   noops.yaml env: { X: { secret: NAME } }  ->  manifest `secretEnv: { X: NAME }` (the name only)
 *   deploy   ->  every NAME resolves at or above the cluster's tag, or nothing changes
 *   GET /agent/desired  ->  the values, to the agents that run the instance only
 *   agent    ->  the process's environment (and ROOT/state.json, mode 0600)
 *
 * See docs/secrets.md.
 */
import { isUnder } from '../tree/index.js';
import type { ReleaseManifest } from '../release/index.js';
import type { SecretView } from '../api/index.js';

export { SECRET_NAME_RE } from '../release/index.js';

/**
 * The largest value a secret holds: certificates and service-account keys fit; a secret is
 * sent to agents with every desired state, so it is no place for files.
 */
export const MAX_SECRET_BYTES = 64 * 1024;

/** What everyone who may see a secret sees of it: never its value (the API's `SecretView`). */
export type SecretMeta = SecretView;

/**
 * The secret named `name` that serves `tag`: the one at the nearest node at or above it (a
 * secret at `cop.acme_owt.web` serves every job under it; one set nearer the job wins).
 *
 * @example
 *   nearestSecret([{ scope: 'cop.a', name: 'db' }, { scope: 'cop.a_owt.b', name: 'db' }], 'cop.a_owt.b_pdl.c', 'db')
 *   // { scope: 'cop.a_owt.b', name: 'db' }
 */
export function nearestSecret<R extends { scope: string; name: string }>(rows: readonly R[], tag: string, name: string): R | undefined {
  let best: R | undefined;
  let depth = -1;
  for (const r of rows) {
    if (r.name !== name || !isUnder(tag, r.scope)) continue;
    // A node under another always has more pairs: the most pairs is the nearest.
    const d = r.scope.split('_').length;
    if (d > depth) [best, depth] = [r, d];
  }
  return best;
}

/**
 * The names of every secret a release's processes need (its `secretEnv` and its processes'),
 * sorted, each once.
 *
 * @example secretNamesOf({ secretEnv: { A: 'db' }, processes: [{ secretEnv: { B: 'key' } }] }) // ['db', 'key']
 */
export function secretNamesOf(
  manifest: Pick<ReleaseManifest, 'secretEnv'> & { processes: readonly { secretEnv?: Record<string, string> }[] },
): string[] {
  const names = new Set<string>(Object.values(manifest.secretEnv ?? {}));
  for (const p of manifest.processes) for (const n of Object.values(p.secretEnv ?? {})) names.add(n);
  return [...names].sort();
}

/**
 * The environment variables of `secretEnv` (variable -> secret name) with their values. A name
 * without a value is left out: the server refuses a deploy with a missing secret, so this only
 * happens when one was removed while in use (and `noops secret rm` refuses that too).
 *
 * @example secretValues({ DB_PASSWORD: 'db' }, { db: 's3cret' }) // { DB_PASSWORD: 's3cret' }
 */
export function secretValues(
  secretEnv: Record<string, string> | undefined,
  values: Record<string, string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [variable, name] of Object.entries(secretEnv ?? {})) {
    const value = values?.[name];
    if (value !== undefined) out[variable] = value;
  }
  return out;
}

/**
 * A value read from a terminal, a pipe or a file, as it is stored: one final line break (which
 * `echo` and editors add) is not part of it.
 *
 * @example secretFromText('s3cret\n') // 's3cret'
 */
export function secretFromText(text: string): string {
  return text.replace(/\r?\n$/, '');
}

export { KEY_BYTES, KEY_FILE, loadOrCreateKey, seal, secretKey, unseal, type SecretKey } from './cipher.js';

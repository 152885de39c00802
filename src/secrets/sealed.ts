/**
 * The server's secrets: sealed with DATA/secret.key on the way into the store, opened only to
 * resolve a deploy's references for the agents that run it (and a build's repository
 * credential). No read API answers a value; see docs/secrets.md.
 *
 * A named second entry of `secrets/`, for the server only: it reads and writes the store and
 * opens values with `cipher.ts`, so it stays out of `secrets/index.ts`.
 */
import { NoopsError } from '../errors/index.js';
import type { ReleaseManifest } from '../release/index.js';
import { loadOrCreateKey, seal, unseal, type SecretKey } from './cipher.js';
import { nearestSecret, secretNamesOf, type SecretMeta } from './index.js';
import type { SecretRow, Store } from '../store/index.js';
import { formatTag, isUnder, parseTag, truncateTo } from '../tree/index.js';

/** The additional authenticated data of a secret's value: a value sealed for one secret opens for no other. */
function aadOf(scope: string, name: string): string {
  return `${scope}\0${name}`;
}

/** A row without its sealed value: what listings show. */
export function secretMeta(r: SecretRow): SecretMeta {
  return { scope: r.scope, name: r.name, version: r.version, updatedBy: r.updatedBy, updatedAt: r.updatedAt, createdAt: r.createdAt };
}

/**
 * The server's secrets, sealed in the store: sets, removes and lists them (never with values),
 * and opens the values a deploy, a build or an agent's desired state needs. It keeps nothing in
 * memory but the key; every call reads the store.
 */
export class SecretBook {
  constructor(
    private readonly store: Store,
    private readonly key: SecretKey,
  ) {}

  /** Sets (or replaces) a secret and audits it, without its value, in one transaction. */
  async set(scope: string, name: string, value: string, by: string): Promise<SecretMeta> {
    const at = new Date().toISOString();
    const sealed = seal(this.key, value, aadOf(scope, name));
    return this.store.tx(async (s) => {
      const row = await s.putSecret({ scope, name, sealed, keyId: this.key.id, updatedBy: by, updatedAt: at });
      await s.audit({ at, actor: by, action: 'secret.set', target: scope, detail: { name, version: row.version } });
      return secretMeta(row);
    });
  }

  /**
   * Removes a secret and audits it. Refused while an instance some host is told to run needs it
   * and no other secret would serve it: that host would lose the value at its next restart.
   *
   * @throws NoopsError NOOPS_E_SECRET_UNKNOWN, NOOPS_E_SECRET_IN_USE
   */
  async remove(scope: string, name: string, by: string): Promise<SecretMeta> {
    const row = await this.store.getSecret(scope, name);
    if (!row)
      throw new NoopsError('NOOPS_E_SECRET_UNKNOWN', `no secret ${name} at ${scope}`, {
        hint: '`noops secret ls` lists the secrets with their scopes',
      });
    const others = (await this.store.listSecrets(name)).filter((r) => r.scope !== scope);
    const users = new Set<string>();
    for (const d of await this.store.listDesired()) {
      if (!isUnder(d.tag, scope) || nearestSecret(others, d.tag, name)) continue;
      if (secretNamesOf(d.manifest as unknown as ReleaseManifest).includes(name)) users.add(`${d.tag} ${d.version}`);
    }
    if (users.size > 0) {
      throw new NoopsError(
        'NOOPS_E_SECRET_IN_USE',
        `the secret ${name} at ${scope} is used by ${[...users].sort().slice(0, 5).join(', ')}${users.size > 5 ? ', ...' : ''}`,
      );
    }
    const at = new Date().toISOString();
    await this.store.tx(async (s) => {
      await s.deleteSecret(scope, name);
      await s.audit({ at, actor: by, action: 'secret.rm', target: scope, detail: { name, version: row.version } });
    });
    return secretMeta(row);
  }

  /** Every secret, without values. */
  async list(): Promise<SecretMeta[]> {
    return (await this.store.listSecrets()).map(secretMeta);
  }

  /**
   * The values of `names` for an instance at `tag` (each from the nearest secret at or above it),
   * and the names no secret serves.
   */
  async resolve(
    tag: string,
    names: readonly string[],
    onUnreadable?: (err: NoopsError) => void,
  ): Promise<{ values: Record<string, string>; missing: string[] }> {
    const out = { values: {} as Record<string, string>, missing: [] as string[] };
    if (names.length === 0) return out;
    const rows = await this.store.listSecrets();
    for (const name of names) {
      const row = nearestSecret(rows, tag, name);
      if (!row) {
        out.missing.push(name);
        continue;
      }
      try {
        out.values[name] = unseal(this.key, row.sealed, aadOf(row.scope, row.name));
      } catch (err) {
        if (!onUnreadable || !(err instanceof NoopsError)) throw err;
        onUnreadable(err);
        out.missing.push(name);
      }
    }
    return out;
  }

  /**
   * The values of `names` for `tag`, or an error naming every one that is missing.
   *
   * @throws NoopsError NOOPS_E_SECRET_UNKNOWN
   */
  async require(tag: string, names: readonly string[], what: string): Promise<Record<string, string>> {
    const { values, missing } = await this.resolve(tag, names);
    if (missing.length > 0) {
      const job = truncateTo(parseTag(tag), 'job');
      const at = job ? formatTag(job) : tag;
      throw new NoopsError(
        'NOOPS_E_SECRET_UNKNOWN',
        `${what} needs the secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, set at no node at or above ${tag}`,
        {
          hint: `set ${missing.length > 1 ? 'each' : 'it'} with \`noops secret set ${missing[0]} --scope ${at}\` (or a node above it), then try again`,
        },
      );
    }
    return values;
  }

  /**
   * Refuses a deploy of `version` to the cluster `tag` whose release needs a secret that no node
   * at or above the cluster has: before any host changes. A release that does not exist is left
   * to the deploy to refuse.
   *
   * @throws NoopsError NOOPS_E_SECRET_UNKNOWN
   */
  async checkDeploy(tag: string, version: string): Promise<void> {
    const job = truncateTo(parseTag(tag), 'job');
    const release = job && (await this.store.getRelease(formatTag(job), version));
    if (!release) return;
    await this.require(tag, secretNamesOf(release.manifest as unknown as ReleaseManifest), `${release.job} ${version}`);
  }

  /**
   * What the desired state of an instance at `tag` carries for its agent: the values of the
   * secrets its release names (none: nothing). A secret missing here (removed after the deploy,
   * which `remove` refuses) or unreadable (another key: logged) is left out, and the process
   * runs without that variable: an agent's desired state never fails for it.
   */
  async forInstance(tag: string, manifest: ReleaseManifest): Promise<{ secrets?: Record<string, string> }> {
    const names = secretNamesOf(manifest);
    if (names.length === 0) return {};
    const unreadable = (err: NoopsError): void => void process.stderr.write(`noops server: ${tag}: ${err.message}; ${err.hint}\n`);
    return { secrets: (await this.resolve(tag, names, unreadable)).values };
  }
}

const books = new WeakMap<object, SecretBook>();

/**
 * The server's SecretBook, made (with the key file, created on the first start) the first time it
 * is asked for: `secretRoutes` asks when the app is built.
 */
export function secretBook(ctx: { store: Store; config: { dataDir: string } }): SecretBook {
  let book = books.get(ctx);
  if (!book) books.set(ctx, (book = new SecretBook(ctx.store, loadOrCreateKey(ctx.config.dataDir))));
  return book;
}

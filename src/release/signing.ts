/**
 * The server's release signing key (docs/trust.md#signed-releases): DATA/signing.key, an Ed25519
 * private key (PKCS#8 PEM, mode 0600) created on the first start. Every release is signed when
 * it is stored (`signReleaseRow`), and agents check each release they install against the key they
 * pinned when they joined.
 *
 * The key stays out of the database on purpose: whoever can write the database (a stolen backup
 * restored, a console left open) could otherwise sign what they put in it. Several servers on one
 * database share the key as they share the admin token: the file is copied. The database records
 * the key's id (`meta.signing_key`), so a server started with another key (or none) refuses to
 * start instead of signing what the agents would refuse.
 *
 * A named second entry of `release/`: it reads files and the store, so it stays out of
 * `release/index.ts` (the agent verifies with `release/signature.ts` alone).
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NoopsError } from '../errors/index.js';
import { signRelease as signFields, signingKeyOf, verifyRelease, type ReleaseSignature, type SigningKey } from './signature.js';
import { signFieldsWith } from './signed-fields.js';
import type { ReleaseRow, Store } from '../store/index.js';

/** The key file in the data folder. */
export const SIGNING_KEY_FILE = 'signing.key';
/** The meta key holding the id of the key this database's releases are signed with. */
export const SIGNING_KEY_META = 'signing_key';

/** The server's signing key: its public half to publish, and a way to sign. */
export interface ReleaseSigner {
  readonly key: SigningKey;
  sign(row: Pick<ReleaseRow, 'job' | 'version' | 'sha256' | 'manifest'>): ReleaseSignature;
  /** signs other fields under their own domain (a package's piece table, a peer ticket: src/swarm/) */
  signFields(domain: string, fields: object): ReleaseSignature;
}

/** A signer over a private key. */
export function signerOf(privateKey: KeyObject): ReleaseSigner {
  const key = signingKeyOf(privateKey);
  return {
    key,
    // The manifest as the database will hold it (JSON.stringify drops undefined): what agents receive.
    sign: (row) =>
      signFields(privateKey, {
        job: row.job,
        version: row.version,
        sha256: row.sha256,
        manifest: JSON.parse(JSON.stringify(row.manifest)),
      }),
    signFields: (domain, fields) => signFieldsWith(privateKey, domain, fields),
  };
}

/**
 * The release row to store, signed: every way of creating a release (a build, an import) stores
 * what this returns.
 *
 * @example await ctx.store.putRelease(signReleaseRow(ctx.signer, { job, version, commit, repo, sha256, size, manifest, buildId: null, createdAt }));
 */
export function signReleaseRow(signer: ReleaseSigner, row: ReleaseRow): ReleaseRow {
  return { ...row, signature: signer.sign(row) };
}

/** What `noops releases --json` says of a release's signature. */
export interface SignatureStatus {
  /**
   * signed: by this server's key, and it verifies; unsigned: no signature (agents refuse it);
   * other-key: by a key that is not this server's; invalid: by this key, but the row was changed
   * after it was signed (agents refuse it)
   */
  state: 'signed' | 'unsigned' | 'other-key' | 'invalid';
  keyId: string | null;
}

/** Checks a stored release against the server's key. */
export function signatureStatus(signer: ReleaseSigner, row: ReleaseRow): SignatureStatus {
  const sig = row.signature ?? undefined;
  if (sig === undefined) return { state: 'unsigned', keyId: null };
  if (sig.keyId !== signer.key.keyId) return { state: 'other-key', keyId: sig.keyId };
  return { state: verifyRelease(signer.key, row, sig) === undefined ? 'signed' : 'invalid', keyId: sig.keyId };
}

/**
 * Loads DATA/signing.key (creating it on the first start of a database that has no key yet),
 * checks it is the key the database's releases are signed with, and on the first start with
 * signing signs the releases made before it. Logs what it did.
 */
export async function openSigner(store: Store, dataDir: string, log: (line: string) => void): Promise<ReleaseSigner> {
  const file = join(dataDir, SIGNING_KEY_FILE);
  const recorded = await store.getMeta(SIGNING_KEY_META);
  let pem: string | undefined;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new NoopsError('NOOPS_E_SIGNING_KEY', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (pem === undefined) {
    if (recorded !== undefined) {
      throw new NoopsError(
        'NOOPS_E_SIGNING_KEY',
        `${file} is missing, and this database's releases are signed with key ${recorded}: a new key would make every agent refuse this server`,
      );
    }
    pem = createKeyFile(file);
    log(`created the release signing key ${file}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new NoopsError('NOOPS_E_SIGNING_KEY', `${file} is not a private key: ${(err as Error).message}`, { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new NoopsError('NOOPS_E_SIGNING_KEY', `${file} is a ${privateKey.asymmetricKeyType} key, not an Ed25519 key`);
  const signer = signerOf(privateKey);
  if (recorded !== undefined && recorded !== signer.key.keyId) {
    throw new NoopsError(
      'NOOPS_E_SIGNING_KEY',
      `${file} is key ${signer.key.keyId}, but this database's releases are signed with key ${recorded}`,
    );
  }
  if (recorded === undefined) {
    // The first start with signing: the releases already there are this server's own (trusted on
    // first use). Later starts sign nothing: a row slipped into the database unsigned stays so.
    const signed = await signExisting(store, signer);
    if (signed > 0) log(`signed ${signed} release(s) made before signing, with key ${signer.key.keyId}`);
    const agreed = await store.initMeta(SIGNING_KEY_META, signer.key.keyId);
    if (agreed !== signer.key.keyId) {
      throw new NoopsError(
        'NOOPS_E_SIGNING_KEY',
        `${file} is key ${signer.key.keyId}, but another server of this database started with key ${agreed}`,
      );
    }
  }
  return signer;
}

/** Writes a new key, never over an existing file (two servers starting at once keep the first). */
function createKeyFile(file: string): string {
  const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  try {
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
    return pem;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8');
    throw new NoopsError('NOOPS_E_SIGNING_KEY', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Signs every release that has no signature; answers how many it signed. */
async function signExisting(store: Store, signer: ReleaseSigner): Promise<number> {
  let n = 0;
  for (const r of await store.listReleases()) {
    if (r.signature) continue;
    if (await store.setReleaseSignature(r.job, r.version, signer.sign(r))) n++;
  }
  return n;
}

/**
 * The signatures of the releases in desired states, read once per release and kept in memory: a
 * release is immutable, so a fleet's long polls cost one lookup per release, not one per host.
 * What it keeps: job and version to signature, for every signed release asked for (an unsigned
 * one is not kept: the server may sign it at its next start).
 */
export class SignatureBook {
  private readonly known = new Map<string, ReleaseSignature>();

  constructor(private readonly store: Store) {}

  /** The stored signature of release `version` of `job`; undefined when unsigned or unknown. */
  async of(job: string, version: string): Promise<ReleaseSignature | undefined> {
    const key = `${job}\n${version}`;
    const hit = this.known.get(key);
    if (hit) return hit;
    const sig = (await this.store.getRelease(job, version))?.signature ?? undefined;
    if (sig) this.known.set(key, sig); // an unsigned one is asked again: the server may sign it at its next start
    return sig;
  }
}

/**
 * The agent's side of signed releases (docs/trust.md#signed-releases): the server's signing key,
 * pinned in ROOT/agent.json beside the agent's identity, and the check of each desired release
 * against it before anything of it is installed or run.
 */
import type { DesiredInstance } from '../../api/index.js';
import { keyIdOf, verifyRelease, type SigningKey } from '../../release/index.js';
import { formatTag, parseTag, truncateTo } from '../../tree/index.js';
import { loadIdentity, saveIdentity } from '../state.js';

/**
 * Releases remembered as verified, per pin: a reconcile checks every desired release, the
 * running ones too, and a rollback names a release checked before; the same key, release and
 * signature verify the same way, so they are checked once (an Ed25519 verification is about
 * 70 us, and 10,000 simulated agents share two cores in bench/fleet). Past this many, the
 * oldest is forgotten (checked again if named again).
 */
export const VERIFIED_KEPT = 32;

/** The key this agent trusts, kept in agent.json with its token. */
export class KeyPin {
  #key: SigningKey | undefined;
  /** what checked releases verified, by everything the signature covers and the signature */
  readonly #verified = new Set<string>();

  constructor(private readonly root: string) {
    const kept = loadIdentity(root)?.signingKey;
    this.#key = kept && trustedKey(kept); // its id computed here too, never read from the file
  }

  /** The pinned key; undefined before the agent met a server that signs. */
  get key(): SigningKey | undefined {
    return this.#key;
  }

  /** Pins `key` (its id computed here, never taken from the sender), durably. */
  pin(key: SigningKey): SigningKey {
    const pinned = trustedKey(key);
    const identity = loadIdentity(this.root);
    if (identity !== undefined) saveIdentity(this.root, { ...identity, signingKey: pinned });
    this.#key = pinned;
    this.#verified.clear();
    return pinned;
  }

  /** {@link checkRelease} against the pinned key, remembering what verified. */
  check(d: DesiredInstance): string | undefined {
    const key = this.#key;
    if (key === undefined || d.signature === undefined) return checkRelease(key, d);
    // the manifest as JSON text: the same text is the same manifest, so the same signed message
    const id = `${key.publicKey}\n${d.signature.keyId}\n${d.signature.value}\n${d.tag}\n${d.version}\n${d.sha256}\n${JSON.stringify(d.manifest)}`;
    if (this.#verified.has(id)) return undefined;
    const why = checkRelease(key, d);
    if (why === undefined) {
      if (this.#verified.size >= VERIFIED_KEPT) this.#verified.delete(this.#verified.values().next().value!);
      this.#verified.add(id);
    }
    return why;
  }
}

/** A published key with the id the agent computes itself. */
export function trustedKey(key: SigningKey): SigningKey {
  return { keyId: keyIdOf(key.publicKey), publicKey: key.publicKey };
}

/**
 * Why a desired release is refused (undefined: it verifies, or the agent pinned no key because
 * its server never signed). The signature covers the job of the instance's tag, so a release of
 * one job cannot be sent under another job's tag.
 *
 * @example checkRelease(pinned, d) // 'release 1a2b3c4d5 is refused: its signature (key ...) does not match ...'
 */
export function checkRelease(pinned: SigningKey | undefined, d: DesiredInstance): string | undefined {
  if (pinned === undefined) return undefined;
  let job: string | undefined;
  try {
    const t = truncateTo(parseTag(d.tag), 'job');
    job = t === null ? undefined : formatTag(t);
  } catch {
    job = undefined;
  }
  const why =
    job === undefined
      ? `its tag ${d.tag} names no job`
      : verifyRelease(pinned, { job, version: d.version, sha256: d.sha256, manifest: d.manifest }, d.signature);
  if (why === undefined) return undefined;
  return `release ${d.version} is refused, its signature does not verify: ${why}. Nothing of it was installed or run`;
}

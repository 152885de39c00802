/**
 * The agent's side of signed releases (docs/trust.md#signed-releases): the server's signing key,
 * pinned in ROOT/agent.json beside the agent's identity, and the check of each desired release
 * against it before anything of it is installed or run.
 */
import type { DesiredInstance } from '../../api/index.js';
import { keyIdOf, verifyRelease, type SigningKey } from '../../release/index.js';
import { formatTag, parseTag, truncateTo } from '../../tree/index.js';
import { loadIdentity, saveIdentity } from '../state.js';

/** The key this agent trusts, kept in agent.json with its token. */
export class KeyPin {
  #key: SigningKey | undefined;

  constructor(private readonly root: string) {
    this.#key = loadIdentity(root)?.signingKey;
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
    return pinned;
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

/**
 * Tokens: secrets are random, shown once (or written to a 0600 file), and stored only as sha256.
 */
import { hash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Store, TokenRow } from '../store/index.js';

/** A new secret: 32 random bytes, base64url, with a prefix that says what it is. */
export function newSecret(kind: TokenRow['kind']): string {
  return `noops_${kind}_${randomBytes(32).toString('base64url')}`;
}

/** The token's sha256, as stored. One-shot `hash`: every request's token is hashed (0.4 us against 0.9 us a Hash object). */
export function hashToken(secret: string): string {
  return hash('sha256', secret, 'hex');
}

export interface BootstrapResult {
  adminTokenFile: string;
  joinTokenFile: string;
  created: boolean;
}

/**
 * On first start, creates the admin and join tokens and writes them to DATA/admin.token and
 * DATA/join.token (mode 0600). A token file that already exists is honoured (its secret is
 * registered if the database does not know it yet), so a new database keeps the old files.
 */
export async function bootstrapTokens(store: Store, dataDir: string): Promise<BootstrapResult> {
  let created = false;
  const files = { admin: join(dataDir, 'admin.token'), join: join(dataDir, 'join.token') } as const;
  for (const kind of ['admin', 'join'] as const) {
    const file = files[kind];
    let secret: string;
    if (existsSync(file)) {
      secret = readFileSync(file, 'utf8').trim();
    } else {
      secret = newSecret(kind);
      writeFileSync(file, `${secret}\n`, { mode: 0o600 });
      created = true;
    }
    chmodSync(file, 0o600);
    const hash = hashToken(secret);
    if (!(await store.findToken(hash))) {
      await store.putToken({
        hash,
        kind,
        name: kind,
        scope: null,
        createdAt: new Date().toISOString(),
        role: null,
        expiresAt: null,
        usesLeft: null,
        createdBy: null,
      });
    }
  }
  return { adminTokenFile: files.admin, joinTokenFile: files.join, created };
}

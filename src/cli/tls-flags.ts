/**
 * The TLS flags of `noops server`, `noops up` and `noops agent`, and what the server prints for
 * the agents (the join output). Deciding here, doing in `tls/` and `api/transport.ts`.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientTrust } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import type { TlsOptions } from '../tls/index.js';

/** The server's flags about TLS, as commander hands them over. */
export interface TlsFlags {
  tls?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** repeated or comma-separated */
  tlsSan?: string[];
  insecure?: boolean;
}

/**
 * The flags into `startServer`'s TLS options; a clear error for a half-given pair or a mix.
 *
 * @example serverTlsOptions({ tls: 'auto', tlsSan: ['cp.example.com'] }) // { auto: true, sans: ['cp.example.com'] }
 */
export function serverTlsOptions(f: TlsFlags): TlsOptions | undefined {
  const sans = (f.tlsSan ?? [])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (f.tls !== undefined && f.tls !== 'auto') {
    throw new NoopsError(
      'NOOPS_E_INPUT',
      `--tls "${f.tls}" is not known: --tls auto makes a local CA; a certificate of your own is --tls-cert FILE --tls-key FILE`,
    );
  }
  if (f.tls === 'auto' && (f.tlsCert || f.tlsKey)) {
    throw new NoopsError('NOOPS_E_INPUT', '--tls auto makes its own certificate: drop it, or drop --tls-cert/--tls-key');
  }
  if (Boolean(f.tlsCert) !== Boolean(f.tlsKey)) {
    throw new NoopsError('NOOPS_E_INPUT', `--tls-cert and --tls-key go together (${f.tlsCert ? '--tls-key' : '--tls-cert'} is missing)`);
  }
  if (sans.length > 0 && f.tls !== 'auto') {
    throw new NoopsError(
      'NOOPS_E_INPUT',
      '--tls-san names the addresses of the certificate --tls auto makes; a certificate of your own has its names already',
    );
  }
  if (f.tls === 'auto') return { auto: true, sans };
  if (f.tlsCert && f.tlsKey) return { certFile: f.tlsCert, keyFile: f.tlsKey };
  return undefined;
}

/** What the server tells its operator about TLS: the lines of the join output (pure). */
export function tlsAnnouncement(o: {
  url: string;
  joinTokenFile: string;
  tls?: { certFile: string; caFile?: string; fingerprint: string; action: string };
}): string[] {
  if (!o.tls) return [];
  if (o.tls.caFile) {
    const made = o.tls.action === 'created' ? ' (new)' : o.tls.action === 'reissued' ? ' (certificate reissued)' : '';
    return [
      `  TLS: ${o.tls.certFile}, signed by the local CA${made}`,
      `  CA for agents and the CLI: ${o.tls.caFile}`,
      `    sha256 ${o.tls.fingerprint}`,
      `  an agent joins with: noops agent --server ${o.url} --ca ca.pem --join-token-file join.token`,
      '    (copy ca.pem and join.token to the host; check the fingerprint with `openssl x509 -noout -fingerprint -sha256 -in ca.pem`)',
    ];
  }
  return [
    `  TLS: ${o.tls.certFile} (sha256 ${o.tls.fingerprint})`,
    '  agents and the CLI verify it with --ca FILE: the CA that signed it (none needed for a publicly trusted one)',
  ];
}

/** Where an agent keeps the CA it verifies its server with, beside its identity (agent.json). */
export function agentCaFile(root: string): string {
  return join(root, 'server-ca.pem');
}

/**
 * The agent's trust in its server: the CA given now (`--ca`, NOOPS_CA), or the one it
 * remembered when it last joined. `given` says whether it is new (to be remembered).
 */
export function agentTrust(root: string, caFlag: string | undefined): { trust?: ClientTrust; given: boolean } {
  if (caFlag) return { trust: { ca: readCa(caFlag) }, given: true };
  const kept = agentCaFile(root);
  return existsSync(kept) ? { trust: { ca: readCa(kept) }, given: false } : { given: false };
}

/** Remembers the CA of a joined agent (0600, written whole): later starts need no --ca. */
export function rememberAgentCa(root: string, pem: string): void {
  const file = agentCaFile(root);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, pem, { mode: 0o600 });
  renameSync(tmp, file);
}

/** A CA file's PEM text, checked to hold a certificate. */
export function readCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new NoopsError('NOOPS_E_TLS_FILES', `cannot read the CA file ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new NoopsError('NOOPS_E_TLS_FILES', `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return pem;
}

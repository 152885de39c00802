/**
 * The server's TLS material on disk: DATA/tls/ for `--tls auto`, or the files given with
 * `--tls-cert` and `--tls-key`. Keys are 0600 in a 0700 folder, as the token files are.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NoopsError } from '../errors/index.js';
import { RENEW_BEFORE_DAYS, createCa, issueServerCert, type KeyPairPem } from './certs.js';
import { coversSans, parseSubjectAltName, type Sans } from './sans.js';

/** The files of `--tls auto` in the data folder. */
export function autoTlsFiles(dataDir: string): { dir: string; caCert: string; caKey: string; cert: string; key: string } {
  const dir = join(dataDir, 'tls');
  return { dir, caCert: join(dir, 'ca.pem'), caKey: join(dir, 'ca.key'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

/** What the server serves with, and what it tells agents to pin. */
export interface ServerTls {
  certPem: string;
  keyPem: string;
  certFile: string;
  /** the CA agents and the CLI verify the server with (undefined for a certificate brought along: its CA is the owner's) */
  caFile?: string;
  /** SHA-256 fingerprint of the CA (auto) or of the server certificate, as `AB:CD:...` */
  fingerprint: string;
  /** what this start did: 'created' a CA, 'reissued' the server certificate, or 'kept' both */
  action: 'created' | 'reissued' | 'kept' | 'given';
}

/**
 * `--tls auto`: the CA of DATA/tls/ (created on first start and kept ever after: agents pin it),
 * and a server certificate it signs, reissued when it misses a wanted SAN or nears its end.
 */
export async function ensureAutoTls(dataDir: string, sans: Sans, now = new Date()): Promise<ServerTls> {
  const f = autoTlsFiles(dataDir);
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  chmodSync(f.dir, 0o700);
  let action: ServerTls['action'] = 'kept';
  let ca: KeyPairPem;
  if (existsSync(f.caCert) && existsSync(f.caKey)) {
    ca = { certPem: readPem(f.caCert, 'the local CA certificate'), keyPem: readPem(f.caKey, 'the local CA key') };
  } else {
    ca = await createCa(now);
    writeSecret(f.caKey, ca.keyPem);
    writeSecret(f.caCert, ca.certPem);
    action = 'created';
  }
  let server: KeyPairPem | undefined;
  if (action === 'kept' && existsSync(f.cert) && existsSync(f.key)) {
    server = { certPem: readPem(f.cert, 'the server certificate'), keyPem: readPem(f.key, 'the server key') };
    if (!stillGood(server.certPem, ca.certPem, sans, now)) server = undefined;
  }
  if (!server) {
    server = await issueServerCert(ca, sans, now);
    writeSecret(f.key, server.keyPem);
    writeSecret(f.cert, server.certPem);
    if (action === 'kept') action = 'reissued';
  }
  for (const file of [f.caKey, f.caCert, f.key, f.cert]) chmodSync(file, 0o600);
  return {
    certPem: server.certPem,
    keyPem: server.keyPem,
    certFile: f.cert,
    caFile: f.caCert,
    fingerprint: fingerprint(ca.certPem),
    action,
  };
}

/** `--tls-cert FILE --tls-key FILE`: read, parsed, and checked to belong together before listening. */
export function loadGivenTls(certFile: string, keyFile: string): ServerTls {
  const certPem = readPem(certFile, '--tls-cert');
  const keyPem = readPem(keyFile, '--tls-key');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new NoopsError('NOOPS_E_TLS_FILES', `--tls-cert ${certFile} is not a PEM certificate`, { cause: err });
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (err) {
    throw new NoopsError('NOOPS_E_TLS_FILES', `--tls-key ${keyFile} is not a PEM private key`, { cause: err });
  }
  if (!matches) throw new NoopsError('NOOPS_E_TLS_FILES', `--tls-key ${keyFile} is not the key of --tls-cert ${certFile}`);
  return { certPem, keyPem, certFile, fingerprint: cert.fingerprint256, action: 'given' };
}

/** The SHA-256 fingerprint of a PEM certificate, `AB:CD:...` as openssl and browsers show it. */
export function fingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** The server certificate is signed by this CA, covers the SANs and is not near its end. */
function stillGood(certPem: string, caPem: string, sans: Sans, now: Date): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_BEFORE_DAYS * 86_400_000) return false;
    return coversSans(parseSubjectAltName(cert.subjectAltName), sans);
  } catch {
    return false; // unreadable: reissue it (the CA, which agents pin, is what must stay)
  }
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new NoopsError('NOOPS_E_TLS_FILES', `cannot read ${what} (${file}): ${(err as Error).message}`, { cause: err });
  }
}

/** Written whole (a temp file, then rename) and 0600 from the first byte. */
function writeSecret(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

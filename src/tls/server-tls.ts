/**
 * The heavy half of tls/: the local CA of `--tls auto` and certificates brought along, made and
 * read with node-forge. Only the server loads it (see README.md).
 */
import { hostname, networkInterfaces } from 'node:os';
import { ensureAutoTls, loadGivenTls, type ServerTls } from './files.js';
import { serverSans } from './sans.js';

export { createCa, issueServerCert, CA_VALID_DAYS, SERVER_VALID_DAYS, RENEW_BEFORE_DAYS, type KeyPairPem } from './certs.js';
export { ensureAutoTls, loadGivenTls, fingerprint, autoTlsFiles, type ServerTls } from './files.js';

/** How the server was told to do TLS. */
export type TlsOptions =
  | { auto: true /** extra names and addresses for the certificate (`--tls-san`) */; sans?: string[] }
  | { certFile: string; keyFile: string };

/** The material to serve with, made or read as `tls` says. */
export async function serverTls(o: { dataDir: string; listenHost: string; tls: TlsOptions }): Promise<ServerTls> {
  if ('certFile' in o.tls) return loadGivenTls(o.tls.certFile, o.tls.keyFile);
  const interfaces = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const sans = serverSans({ listenHost: o.listenHost, hostname: hostname(), extras: o.tls.sans ?? [], interfaces });
  return ensureAutoTls(o.dataDir, sans);
}

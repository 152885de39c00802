/**
 * TLS for the server (light surface; making and reading certificates, with node-forge, is the named
 * entry `tls/server-tls.ts`): the listen-address rule, the local CA of `--tls auto`, certificates brought
 * along with `--tls-cert/--tls-key`. The clients' side (verifying with `--ca`) lives in
 * `api/transport.ts`, so that an agent never loads the certificate library.
 *
 * @example
 *   const tls = await serverTls({ dataDir, listenHost: '0.0.0.0', tls: { auto: true, sans: [] } });
 *   console.log(tls?.caFile, tls?.fingerprint);
 */
export { isLoopback, listenMode, type ListenMode } from './listen.js';
export { serverSans, coversSans, parseSubjectAltName, isWildcard, type Sans, type InterfaceAddress } from './sans.js';
export type { KeyPairPem } from './certs.js';
export type { ServerTls } from './files.js';
export type { TlsOptions } from './server-tls.js';

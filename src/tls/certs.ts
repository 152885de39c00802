/**
 * Making a local CA and a server certificate it signs. Node's crypto makes the keys (RSA 2048,
 * natively and off the event loop); node-forge writes the X.509 certificates, which Node cannot.
 *
 * @example
 *   const ca = await createCa(new Date());
 *   const server = await issueServerCert(ca, { dns: ['localhost'], ips: ['127.0.0.1'] }, new Date());
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import type { Sans } from './sans.js';

/** RSA 2048: what every TLS client accepts; forge signs only with RSA keys. */
const RSA_BITS = 2048;
/** The local CA lasts ten years: it is pinned on every agent, and replacing it means visiting each. */
export const CA_VALID_DAYS = 3650;
/** The server certificate lasts 825 days, the longest that Apple's and browsers' rules accept for
 * a certificate a person may open the console with. It is renewed on start when near its end. */
export const SERVER_VALID_DAYS = 825;
/** A server certificate with less than this left is reissued on the next start. */
export const RENEW_BEFORE_DAYS = 30;

const DAY_MS = 86_400_000;

/** A certificate with its private key, both PEM. */
export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

async function rsaKeys(): Promise<{ publicKey: string; privateKey: string }> {
  return promisify(generateKeyPair)('rsa', {
    modulusLength: RSA_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** A positive random serial (RFC 5280 4.1.2.2: unique per CA, at most 20 octets). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // the first bit clear: a positive integer in DER
  return bytes.toString('hex');
}

/** A new self-signed CA that may sign server certificates only (pathLen 0). */
export async function createCa(now: Date, commonName = 'noops local CA'): Promise<KeyPairPem> {
  const keys = await rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 60_000); // a host whose clock is a little behind
  cert.validity.notAfter = new Date(now.getTime() + CA_VALID_DAYS * DAY_MS);
  const name = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'noops' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKey), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKey };
}

/** A server certificate for `sans`, signed by `ca`. */
export async function issueServerCert(ca: KeyPairPem, sans: Sans, now: Date): Promise<KeyPairPem> {
  const keys = await rsaKeys();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + SERVER_VALID_DAYS * DAY_MS);
  cert.setSubject([
    { name: 'commonName', value: sans.dns[0] ?? sans.ips[0] ?? 'noops server' },
    { name: 'organizationName', value: 'noops' },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    // GeneralName types of RFC 5280 4.2.1.6: 2 is dNSName, 7 is iPAddress
    { name: 'subjectAltName', altNames: [...sans.dns.map((value) => ({ type: 2, value })), ...sans.ips.map((ip) => ({ type: 7, ip }))] },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKey };
}

/**
 * The names a server certificate is valid for (its subjectAltName): every name and address an
 * agent or a person may type in `--server`.
 */
import { isIP } from 'node:net';

export interface Sans {
  dns: string[];
  ips: string[];
}

/** One network interface's address, as `os.networkInterfaces()` lists it. */
export interface InterfaceAddress {
  address: string;
  internal: boolean;
}

/**
 * The SANs of the server certificate: the listen address (or, for a wildcard, every address of
 * the machine's interfaces), 127.0.0.1, ::1, localhost, the host name, and the extras given with
 * `--tls-san`. Pure: the caller passes the host name and the interfaces.
 *
 * @example
 *   serverSans({ listenHost: '10.0.0.5', hostname: 'cp1', extras: ['noops.example.com'], interfaces: [] })
 *   // { dns: ['localhost', 'cp1', 'noops.example.com'], ips: ['127.0.0.1', '::1', '10.0.0.5'] }
 */
export function serverSans(o: { listenHost: string; hostname: string; extras: string[]; interfaces: InterfaceAddress[] }): Sans {
  const dns: string[] = [];
  const ips: string[] = [];
  const add = (raw: string): void => {
    const v = raw.trim().replace(/^\[|\]$/g, '');
    if (v === '') return;
    if (isIP(v)) {
      const ip = normalizeIp(v);
      if (!ips.includes(ip)) ips.push(ip);
    } else {
      const name = v.toLowerCase();
      if (!dns.includes(name)) dns.push(name);
    }
  };
  add('localhost');
  add(o.hostname);
  add('127.0.0.1');
  add('::1');
  if (isWildcard(o.listenHost)) {
    for (const a of o.interfaces) if (!a.internal && !a.address.startsWith('fe80:')) add(a.address);
  } else {
    add(o.listenHost);
  }
  for (const e of o.extras) add(e);
  return { dns, ips };
}

/** True when every name and address of `want` is in `have` (the certificate need not change). */
export function coversSans(have: Sans, want: Sans): boolean {
  return want.dns.every((d) => have.dns.includes(d)) && want.ips.every((i) => have.ips.includes(i));
}

/** 0.0.0.0, :: or empty: listen on every interface. */
export function isWildcard(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** The SANs of a certificate as Node's `X509Certificate.subjectAltName` writes them. */
export function parseSubjectAltName(text: string | undefined): Sans {
  const dns: string[] = [];
  const ips: string[] = [];
  for (const part of (text ?? '').split(', ')) {
    if (part.startsWith('DNS:')) dns.push(part.slice(4).toLowerCase());
    else if (part.startsWith('IP Address:')) ips.push(normalizeIp(part.slice(11)));
  }
  return { dns, ips };
}

/** Node writes ::1 as 0:0:0:0:0:0:0:1: compare IPv6 addresses in their short form. */
export function normalizeIp(ip: string): string {
  if (isIP(ip) !== 6) return ip.toLowerCase();
  try {
    return new URL(`http://[${ip}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return ip.toLowerCase();
  }
}

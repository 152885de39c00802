/**
 * The listen-address rule: plain HTTP only where nobody else can listen in.
 *
 * Tokens, desired states and packages cross this connection; on an address other hosts can
 * reach, plain HTTP lets whoever sits on the path read every token and run code as root on every
 * agent (issue 12). Loopback never leaves the machine, so `noops up` stays plain.
 */
import { isIP } from 'node:net';

/**
 * True for an address that never leaves this machine: 127.0.0.0/8, ::1, its IPv4-mapped forms,
 * and the name `localhost` (RFC 6761 reserves it for loopback).
 *
 * @example isLoopback('127.0.0.1') === true; isLoopback('0.0.0.0') === false
 */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    if (h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h) || h === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1]!.startsWith('127.');
  }
  return false;
}

/** How the server may listen: with TLS, plain on loopback, plain because told to, or not at all. */
export type ListenMode = 'tls' | 'plain-loopback' | 'plain-insecure' | 'refuse';

/**
 * Decides whether a server may listen on `host`. A wildcard (0.0.0.0, ::) or any other address
 * reaches the network, so plain HTTP there needs `--insecure`.
 *
 * @example listenMode('0.0.0.0', { tls: false, insecure: false }) === 'refuse'
 */
export function listenMode(host: string, o: { tls: boolean; insecure: boolean }): ListenMode {
  if (o.tls) return 'tls';
  if (isLoopback(host)) return 'plain-loopback';
  return o.insecure ? 'plain-insecure' : 'refuse';
}

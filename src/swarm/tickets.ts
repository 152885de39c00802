/**
 * Peer tickets: how an agent proves to another that it may fetch a package's pieces. The tracker
 * gives one to an agent whose desired state names the package; it names that host, the addresses
 * it may be used from (where the server saw the host), the package, and expires soon, and is
 * signed by the server's key, which the serving agent pinned when it joined: it checks the ticket
 * alone, without asking the server, and serves only a connection from one of its addresses, so a
 * ticket seen by anyone else (a peer it was sent to, the wire) is no use to them.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { verifyFields, type ReleaseSignature, type SigningKey } from '../release/index.js';

/**
 * The first line of a ticket's signed message. v2: tickets name the addresses they may be used
 * from; a v1 ticket (no addresses, good from anywhere) never verifies as one.
 */
export const TICKET_DOMAIN = 'noops-peer-ticket-v2';
/**
 * How long a ticket holds: the agent asks the tracker every few pieces and gets a fresh one with
 * each answer, so a minute covers a slow piece; a ticket that leaks is good for a minute, for one
 * package, and only from its holder's addresses.
 */
export const TICKET_TTL_MS = 60_000;
/** The HTTP header a ticket travels in (`authorization: NoopsTicket <ticket>`). */
export const TICKET_SCHEME = 'NoopsTicket';

/**
 * The header a keyed ticket travels in, beside the signed one (`noops-peer-ticket: <keyed ticket>`):
 * a serving agent of before keyed tickets reads only `authorization`.
 */
export const KEYED_TICKET_HEADER = 'noops-peer-ticket';
/** What a serving agent's peer key is derived from its token with (`peerKeyOf`), with the server key's id. */
export const PEER_KEY_DOMAIN = 'noops-peer-key-v1';
/** The first line of what a keyed ticket's MAC covers (then its encoded fields). */
export const KEYED_TICKET_DOMAIN = 'noops-peer-keyed-ticket-v1';

/** What a ticket says. */
export interface TicketFields {
  host: string;
  /** the addresses (IPv4 dotted, IPv6 as Node writes them) a connection using it may come from */
  addresses: string[];
  sha256: string;
  /** ms since the epoch after which it is refused */
  expires: number;
}

/** A ticket: its fields and the server's signature, as one opaque string (base64url JSON). */
export type Ticket = string;

/** Makes a ticket from the fields and their signature (TICKET_DOMAIN). */
export function encodeTicket(fields: TicketFields, signature: ReleaseSignature): Ticket {
  return Buffer.from(JSON.stringify({ ...fields, signature })).toString('base64url');
}

/**
 * The ticket's fields when it is good for package `sha256` at `now`; else why not.
 *
 * @example checkTicket(pinned, header, sha256, Date.now()) // { host: 'h2', sha256, expires } or { refused: '...' }
 */
export function checkTicket(
  pinned: SigningKey | undefined,
  ticket: string,
  sha256: string,
  now: number,
): TicketFields | { refused: string } {
  if (pinned === undefined) return { refused: 'this agent has pinned no server key, so it checks no ticket' };
  const t = readFields(ticket, sha256, now, {
    unreadable: 'the ticket is not readable',
    noAddress: 'the ticket names no address it may be used from (a server older than this agent made it)',
  });
  if ('refused' in t) return t;
  const why = verifyFields(pinned, TICKET_DOMAIN, t.fields, t.signature);
  return why === undefined ? t.fields : { refused: `the ticket is refused: ${why}` };
}

/**
 * A ticket's fields from their base64url JSON when they are for package `sha256` and not expired
 * at `now` (and the signature beside them, for a signed ticket); else why not, in `why`'s words
 * for what cannot be read. Signed and keyed tickets alike.
 */
function readFields(
  encoded: string,
  sha256: string,
  now: number,
  why: { unreadable: string; noAddress: string },
): { fields: TicketFields; signature?: ReleaseSignature } | { refused: string } {
  let t: TicketFields & { signature?: ReleaseSignature };
  try {
    t = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as typeof t;
  } catch {
    return { refused: why.unreadable };
  }
  if (typeof t !== 'object' || t === null || typeof t.host !== 'string' || typeof t.sha256 !== 'string' || typeof t.expires !== 'number')
    return { refused: why.unreadable };
  if (!Array.isArray(t.addresses) || t.addresses.length === 0 || !t.addresses.every((a) => typeof a === 'string'))
    return { refused: why.noAddress };
  if (t.sha256 !== sha256) return { refused: `the ticket is for package ${t.sha256}, not ${sha256}` };
  if (t.expires < now) return { refused: 'the ticket has expired' };
  return { fields: { host: t.host, addresses: t.addresses, sha256: t.sha256, expires: t.expires }, signature: t.signature };
}

/**
 * Why a ticket's holder may not use it from `remote` (a connection's remote address), or
 * undefined when it may. IPv4 addresses mapped into IPv6 (`::ffff:10.0.0.1`) count as IPv4.
 *
 * @example refusedFrom({ host: 'h2', addresses: ['10.0.0.2'], ... }, '::ffff:10.0.0.9') // 'the ticket of h2 is for a connection from 10.0.0.2, not from 10.0.0.9'
 */
export function refusedFrom(fields: TicketFields, remote: string | undefined): string | undefined {
  const from = remote === undefined ? undefined : plainAddress(remote);
  if (from !== undefined && fields.addresses.includes(from)) return undefined;
  return `the ticket of ${fields.host} is for a connection from ${fields.addresses.join(' or ')}, not from ${from ?? 'an unknown address'}`;
}

/**
 * An address as tickets name it: an IPv4 address mapped into IPv6 as plain IPv4, IPv6 in lower case.
 *
 * @example plainAddress('::ffff:10.0.0.1') // '10.0.0.1'
 */
export function plainAddress(ip: string): string {
  const lower = ip.toLowerCase();
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower;
}

/**
 * A serving agent's peer key: HMAC-SHA256 of `peerKeyDomain(serverKeyId)` keyed by the agent's own
 * API token. The agent computes it from the token it holds and the id of the server key it pinned;
 * a server computes it from the token the agent sends with its tracker requests and its own key's
 * id (and keeps it in memory only). No one else has it: the key is never sent, the database holds
 * only the token's hash, and a server with another key (one the agent does not trust) derives
 * another.
 */
export function peerKeyOf(token: string, serverKeyId: string): Buffer {
  return createHmac('sha256', token).update(peerKeyDomain(serverKeyId)).digest();
}

/** What `peerKeyOf` MACs: PEER_KEY_DOMAIN and the server key's id. */
export function peerKeyDomain(serverKeyId: string): string {
  return `${PEER_KEY_DOMAIN}\n${serverKeyId}`;
}

/**
 * A keyed ticket: the fields (base64url JSON) and their HMAC-SHA256 under the peer key of the one
 * agent it is for. The tracker makes one for each assignment from a peer whose key it knows; that
 * peer checks it with its own key in microseconds, where a signed ticket costs it an Ed25519 check
 * (a fifth of a millisecond here, once per asker and package). Good at that peer only: another
 * peer's key does not check it.
 *
 * @example keyedTicket(peerKeyOf(tokenOfH1, serverKeyId), { host: 'h2', addresses: ['10.0.0.2'], sha256, expires }) // 'eyJob3N0Ijoi...Q.3q2-...'
 */
export function keyedTicket(peerKey: Buffer, fields: TicketFields): Ticket {
  return keyedTicketOf(peerKey, Buffer.from(JSON.stringify(fields)).toString('base64url'));
}

/** `keyedTicket` of fields already encoded (the tracker encodes an answer's fields once for all its peers). */
export function keyedTicketOf(peerKey: Buffer, encoded: string): Ticket {
  return `${encoded}.${keyedMac(peerKey, encoded).toString('base64url')}`;
}

function keyedMac(peerKey: Buffer, encoded: string): Buffer {
  return createHmac('sha256', peerKey).update(`${KEYED_TICKET_DOMAIN}\n${encoded}`).digest();
}

/**
 * A keyed ticket's fields when it was made for the agent holding `peerKey`, is for package
 * `sha256` and has not expired at `now`; else why not. The addresses are checked by the caller
 * (`refusedFrom`), as for a signed ticket.
 */
export function checkKeyedTicket(peerKey: Buffer, ticket: string, sha256: string, now: number): TicketFields | { refused: string } {
  const dot = ticket.indexOf('.');
  if (dot <= 0 || ticket.length > MAX_KEYED_TICKET_CHARS || !MAC_TEXT.test(ticket.slice(dot + 1)))
    return { refused: 'the keyed ticket is not readable' };
  const encoded = ticket.slice(0, dot);
  const mac = Buffer.from(ticket.slice(dot + 1), 'base64url');
  const expected = keyedMac(peerKey, encoded);
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected))
    return { refused: 'the keyed ticket was not made for this agent (or was changed)' };
  const t = readFields(encoded, sha256, now, {
    unreadable: 'the keyed ticket is not readable',
    noAddress: 'the keyed ticket is not readable',
  });
  return 'refused' in t ? t : t.fields;
}

/** A keyed ticket longer than this is refused unread (a few addresses and a host name are a few hundred). */
const MAX_KEYED_TICKET_CHARS = 4096;
/** A MAC as a keyed ticket carries it: 32 bytes in base64url, exactly (a lenient decoding would take other spellings of it). */
const MAC_TEXT = /^[A-Za-z0-9_-]{43}$/;

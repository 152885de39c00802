/**
 * Peer tickets: how an agent proves to another that it may fetch a package's pieces. The tracker
 * gives one to an agent whose desired state names the package; it names that host and package
 * and expires soon, and is signed by the server's key, which the serving agent pinned when it
 * joined: it checks the ticket alone, without asking the server.
 */
import { verifyFields, type ReleaseSignature, type SigningKey } from '../release/index.js';

/** The first line of a ticket's signed message. */
export const TICKET_DOMAIN = 'noops-peer-ticket-v1';
/**
 * How long a ticket holds: the agent asks the tracker every few pieces and gets a fresh one with
 * each answer, so a minute covers a slow piece; a ticket that leaks is good for a minute, for one
 * package the holder's host was meant to get anyway.
 */
export const TICKET_TTL_MS = 60_000;
/** The HTTP header a ticket travels in (`authorization: NoopsTicket <ticket>`). */
export const TICKET_SCHEME = 'NoopsTicket';

/** What a ticket says. */
export interface TicketFields {
  host: string;
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
  let t: TicketFields & { signature?: ReleaseSignature };
  try {
    t = JSON.parse(Buffer.from(ticket, 'base64url').toString('utf8')) as typeof t;
  } catch {
    return { refused: 'the ticket is not readable' };
  }
  if (typeof t !== 'object' || t === null || typeof t.host !== 'string' || typeof t.sha256 !== 'string' || typeof t.expires !== 'number')
    return { refused: 'the ticket is not readable' };
  if (t.sha256 !== sha256) return { refused: `the ticket is for package ${t.sha256}, not ${sha256}` };
  if (t.expires < now) return { refused: 'the ticket has expired' };
  const fields: TicketFields = { host: t.host, sha256: t.sha256, expires: t.expires };
  const why = verifyFields(pinned, TICKET_DOMAIN, fields, t.signature);
  return why === undefined ? fields : { refused: `the ticket is refused: ${why}` };
}

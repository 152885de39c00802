/**
 * The tracker's route (docs/packages-p2p.md): `POST /agent/pieces/SHA256`. An agent whose desired
 * state names the package says what it holds and how its last pieces went; the answer names its
 * next pieces and their sources (peers, or the server as the seed of last resort), with the
 * package's signed piece table on the first request and a fresh peer ticket every time.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { isIP } from 'node:net';
import { NoopsError } from '../../errors/index.js';
import {
  encodeTicket,
  HOLD_MS,
  keyedTicketOf,
  peerKeyOf,
  PieceTables,
  pieceCount,
  plainAddress,
  TICKET_DOMAIN,
  TICKET_TTL_MS,
  PIECE_DIGESTS,
  Tracker,
  canCheck,
  SEED,
  type Assignment,
  type SwarmAnswer,
  type TicketFields,
} from '../../swarm/index.js';
import type { ServerContext } from '../context.js';
import { parseBody } from './parse.js';

/** Reports per request at most: an agent has at most a few pieces in flight; a package at most MAX_PIECES pieces. */
const MAX_REPORTS = 256;
const Piece = z.number().int().min(0).max(1_000_000);
const Report = z.object({ piece: Piece, from: z.string().min(1).max(100) }).strict();

const SwarmBody = z
  .object({
    have: z.array(Piece).max(100_000),
    table: z.boolean().optional(),
    digest: z.enum(PIECE_DIGESTS).optional(),
    done: z.array(Report).max(MAX_REPORTS).optional(),
    failed: z
      .array(Report.extend({ why: z.enum(['busy', 'gone']) }).strict())
      .max(MAX_REPORTS)
      .optional(),
    bad: z.array(Report).max(MAX_REPORTS).optional(),
    serve: z
      .object({
        port: z.number().int().min(1).max(65535).optional(),
        url: z
          .url({ protocol: /^https?$/ })
          .max(512)
          .optional(),
      })
      .strict()
      .optional(),
    complete: z.boolean().optional(),
  })
  .strict();

/**
 * Tickets kept for reuse: a host asks the tracker several times a package, and signing a ticket for
 * each answer was a third of the route's CPU (and each new ticket costs its peers a signature
 * check). One is reused while more than half its life is left; a few thousand are a few hundred KB.
 */
const TICKETS_KEPT = 20_000;
/**
 * How long the `--peer-url` a host joined with is trusted from memory: an agent that serves at it
 * says it in every tracker request (several a package), and reading the host's row for each was a
 * store query per request. A host joins again rarely; its new URL is read at once when it differs.
 */
const JOINED_URL_KEPT_MS = 60_000;

/** The tracker of this server, and the piece tables of the packages it tracks. */
export interface SwarmService {
  tracker: Tracker;
  tables: PieceTables;
}

export async function swarmRoutes(api: FastifyInstance, ctx: ServerContext): Promise<SwarmService> {
  const tracker = new Tracker();
  const tables = new PieceTables({
    open: async (sha256) => {
      const path = await ctx.artifacts.localPath(sha256);
      return { size: (await stat(path)).size, bytes: createReadStream(path, { highWaterMark: 1024 * 1024 }) };
    },
    sign: (domain, fields) => ctx.signer.signFields(domain, fields),
  });

  const tickets = new Map<string, { ticket: string; expires: number }>();
  const ticketFor = (host: string, addresses: string[], sha256: string): string => {
    const key = `${host}\n${sha256}\n${addresses.join(' ')}`;
    const now = Date.now();
    const kept = tickets.get(key);
    if (kept && kept.expires - now > TICKET_TTL_MS / 2) return kept.ticket;
    if (tickets.size >= TICKETS_KEPT) for (const [k, t] of tickets) if (t.expires - now <= TICKET_TTL_MS / 2) tickets.delete(k);
    if (tickets.size >= TICKETS_KEPT) tickets.clear();
    const fields: TicketFields = { host, addresses, sha256, expires: now + TICKET_TTL_MS };
    const ticket = encodeTicket(fields, ctx.signer.signFields(TICKET_DOMAIN, fields));
    tickets.set(key, { ticket, expires: fields.expires });
    return ticket;
  };

  // The peer keys of the agents that serve (tickets.ts `peerKeyOf`), from the token each sends with
  // its own tracker requests: an assignment from one of them carries a ticket keyed for it, which it
  // checks without a signature check. Memory only; a server that has not heard an agent since it
  // started gives its askers the signed ticket alone.
  const peerKeys = new Map<string, { tokenHash: string; key: Buffer }>();
  const learnPeerKey = (host: string, tokenHash: string, authorization: string | undefined): void => {
    if (peerKeys.get(host)?.tokenHash === tokenHash) return;
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (token === undefined) return;
    if (peerKeys.size >= TICKETS_KEPT) peerKeys.clear();
    peerKeys.set(host, { tokenHash, key: peerKeyOf(token, ctx.signer.key.keyId) });
  };
  const withKeyedTickets = (assignments: Assignment[], fields: TicketFields): Assignment[] => {
    let encoded: string | undefined;
    return assignments.map((a) => {
      const peer = a.from === SEED ? undefined : peerKeys.get(a.from);
      if (peer === undefined) return a;
      encoded ??= Buffer.from(JSON.stringify(fields)).toString('base64url');
      return { ...a, ticket: keyedTicketOf(peer.key, encoded) };
    });
  };

  // the --peer-url each host joined with (when it serves at another address than it is seen at)
  const joinedUrls = new Map<string, { url: string | undefined; until: number }>();
  const joinedUrl = async (host: string, stated: string): Promise<string | undefined> => {
    const kept = joinedUrls.get(host);
    if (kept && kept.url === stated && kept.until > Date.now()) return kept.url;
    const url = (await ctx.store.getHost(host))?.peerUrl;
    if (joinedUrls.size >= TICKETS_KEPT) joinedUrls.clear();
    joinedUrls.set(host, { url: url === undefined ? undefined : normalPeerUrl(url).url, until: Date.now() + JOINED_URL_KEPT_MS });
    return url;
  };

  // Only an agent whose desired state names the package (as for the package itself: 404 otherwise).
  api.post('/agent/pieces/:sha256', { config: { access: 'agent' } }, async (req): Promise<SwarmAnswer> => {
    const { sha256 } = req.params as { sha256: string };
    if (!/^[0-9a-f]{64}$/.test(sha256))
      throw new NoopsError('NOOPS_E_INPUT', 'a package is named by its sha256: 64 lower-case hex characters');
    const body = parseBody(SwarmBody, req.body, 'pieces');
    const host = req.principal.name;
    if (!(await ctx.desired.answer(host)).fetchable.has(sha256))
      throw new NoopsError('NOOPS_E_NOT_FOUND', `no package with sha256 ${sha256} for host ${host}`, {
        hint: 'an agent fetches only the packages its desired state names',
      });
    // the digests the agent checks, when this server computes them too; else sha256, which every agent checks
    const table = await tables.get(sha256, body.digest !== undefined && canCheck(body.digest) ? body.digest : 'sha256');
    // A small package: no table, so the agent takes it whole (as from a server without a tracker).
    if (table.size < ctx.config.swarmWholeBelowBytes) return { ticket: '', assignments: [], retryMs: 0 };
    const labels = tracker.knows(sha256, host) ? {} : ((await ctx.store.getHost(host))?.labels ?? {});
    const n = pieceCount(table.size, table.pieceSize);
    // where this server sees the agent: where it serves (by default), and where its ticket may be used from
    const seen = plainAddress(req.ip);
    const at = await servedAt(body.serve, seen, host, ctx.config.trustPeerUrls, joinedUrl);
    const asker = { host, labels, url: at.url };
    if (at.url !== undefined) learnPeerKey(host, req.tokenHash, req.headers.authorization);
    let answer = tracker.announce(sha256, n, asker, body);
    // Nothing to do yet: held until the swarm changes (a piece lands somewhere) or HOLD_MS pass,
    // rather than the agent asking again every RETRY_MS.
    for (const until = Date.now() + HOLD_MS; answer.retryMs > 0 && Date.now() < until; ) {
      await tracker.changed(sha256, until - Date.now());
      answer = tracker.announce(sha256, n, asker, { have: body.have, ...(body.serve && { serve: body.serve }) });
    }
    const assignments =
      answer.assignments.length === 0
        ? answer.assignments
        : withKeyedTickets(answer.assignments, { host, addresses: at.addresses, sha256, expires: Date.now() + TICKET_TTL_MS });
    return { ...(body.table && { table }), ticket: ticketFor(host, at.addresses, sha256), ...answer, assignments };
  });
  return { tracker, tables };
}

/**
 * Where the tracker sends this agent's peers (undefined: it serves none), and the addresses its
 * ticket is good from: `seen` (where this server sees it, plainAddress), and the host of the URL
 * it serves at when that is another address. A port is served at `seen`. A URL is taken only when
 * its host is `seen`, or it is the `--peer-url` the agent joined with (stored), or this server
 * trusts stated URLs (`--trust-peer-urls`); else NOOPS_E_PEER_URL: an agent could otherwise send
 * its peers, with their tickets, to any address it likes (an internal service, another host).
 */
async function servedAt(
  serve: { port?: number; url?: string } | undefined,
  seen: string,
  host: string,
  trust: boolean,
  joinedUrl: (host: string, stated: string) => Promise<string | undefined>,
): Promise<{ url: string | undefined; addresses: string[] }> {
  if (serve?.url === undefined) {
    if (serve?.port === undefined) return { url: undefined, addresses: [seen] };
    return { url: `http://${isIP(seen) === 6 ? `[${seen}]` : seen}:${serve.port}`, addresses: [seen] };
  }
  const { url, address } = normalPeerUrl(serve.url);
  if (address !== seen && !trust) {
    const joined = await joinedUrl(host, url);
    if (joined === undefined || normalPeerUrl(joined).url !== url)
      throw new NoopsError(
        'NOOPS_E_PEER_URL',
        `host ${host} says it serves pieces at ${url}, but this server sees it at ${seen}${joined === undefined ? '' : ` and it joined with --peer-url ${joined}`}: peers are not sent there`,
      );
  }
  return { url, addresses: address === undefined || address === seen ? [seen] : [seen, address] };
}

/**
 * A peer URL without what peers need not send (credentials, query, fragment, a trailing "/"), and
 * its host when that is an IP address (plainAddress).
 *
 * @example normalPeerUrl('http://[::1]:7701/') // { url: 'http://[::1]:7701', address: '::1' }
 */
function normalPeerUrl(raw: string): { url: string; address: string | undefined } {
  const u = new URL(raw);
  const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { url: `${u.protocol}//${u.host}${u.pathname.replace(/\/$/, '')}`, address: isIP(hostname) ? plainAddress(hostname) : undefined };
}

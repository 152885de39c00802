/**
 * Naming (issue 16): `GET /naming/SELECTOR`, the healthy endpoints under a selector, with
 * Consul-style blocking queries (`?index=N&wait=30s`: answered when the index moves, or at the
 * wait); and `GET /deps?selector=`, who depends on whom. Scoped like every read: a team token
 * sees the endpoints of its own subtree only. Every answer records the lookup (which host asked
 * for what) for the dependency graph.
 *
 * What a change costs per watcher is kept to writing bytes: the answer of a question (a selector
 * through one caller identity's scope) is worked out once per generation (NamingView), encoded
 * once (its body and headers, below) and shared by every watcher woken with it and every plain
 * GET at that index; a parked query is one plain object in the view (no timer, no closure of its
 * own), its response written straight to the socket (`reply.hijack()`: fastify's per-reply
 * serialization and hooks are skipped; `onResponse` still counts it).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NAMING_DEFAULT_WAIT_MS, NAMING_MAX_WAIT_MS, type DepsView, type NamingAnswer } from '../../api/index.js';
import { Naming, namingSelector, type NamingScope, type NamingView, type Watcher } from '../../naming/index.js';
import { CHANNELS } from '../../bus/index.js';
import { canSee, type Principal } from '../auth.js';
import type { ServerContext } from '../context.js';
import { BlockingQuery, parseQuery } from './parse.js';

/** One Naming per server context: the routes and the DNS server read the same view. */
const namings = new WeakMap<ServerContext, Naming>();

/** The server's naming (made on first use; `startServer` starts it before it serves). */
export function namingOf(ctx: ServerContext): Naming {
  let naming = namings.get(ctx);
  if (!naming) {
    naming = new Naming({
      reports: ctx.reports,
      store: ctx.store,
      nodes: () => ctx.tags.all(),
      // every join and removal of a host forgets its agent's tokens on every server: its row is read again then, not every row every 5 s
      view: { hostChanges: (on) => ctx.bus.subscribe(CHANNELS.agentTokens, on) },
    });
    namings.set(ctx, naming);
  }
  return naming;
}

/** `?index=N&wait=30s` (the route caps the wait at NAMING_MAX_WAIT_MS). */
const NamingQuery = z.object(BlockingQuery).strict();

/** A stable key of what a principal may see: callers with the same one share an answer. */
function scopeKey(who: Principal): string {
  return who.kind === 'admin' ? '*' : `${who.kind}:${who.scope ?? ''}`;
}

/** Scopes kept (one per caller identity seen); more are made per request. */
const MAX_SCOPES = 10_000;
const scopes = new Map<string, NamingScope>();

/** The scope of `who`, made once per identity: `canSee` depends on the kind and scope only. */
function scopeOf(who: Principal): NamingScope {
  const key = scopeKey(who);
  let scope = scopes.get(key);
  if (scope === undefined) {
    scope = { key, sees: (tag) => canSee(who, tag) };
    if (scopes.size < MAX_SCOPES) scopes.set(key, scope);
  }
  return scope;
}

/** An answer as written: its JSON and its headers (flat: name, value, ...). */
interface Encoded {
  body: Buffer;
  headers: string[];
}

/**
 * An answer's bytes, made once per answer object: the view hands the same object to every
 * watcher of a question at a generation and to every GET of it, so 1,000 watchers cost one
 * serialization, not 1,000.
 */
const encodedAnswers = new WeakMap<NamingAnswer, Encoded>();
function encoded(answer: NamingAnswer): Encoded {
  let e = encodedAnswers.get(answer);
  if (e === undefined) {
    const body = Buffer.from(JSON.stringify(answer));
    const headers = [
      'content-type',
      'application/json; charset=utf-8',
      'content-length',
      String(body.length),
      'x-noops-index',
      String(answer.index),
    ];
    encodedAnswers.set(answer, (e = { body, headers }));
  }
  return e;
}

/** Writes `answer` as the response (a HEAD's body is dropped by node). */
function send(res: ServerResponse, answer: NamingAnswer): void {
  if (res.writableEnded || res.destroyed) return; // the caller left: nothing to write to
  const e = encoded(answer);
  res.writeHead(200, e.headers);
  res.end(e.body);
}

/** A parked HTTP query: its response, and the view to leave when the caller hangs up. */
interface HttpWatcher extends Watcher {
  target: ServerResponse;
  view: NamingView;
}

/** Shared by every parked HTTP query: no closure per watcher. */
function deliverHttp(w: Watcher, answer: NamingAnswer): void {
  send((w as HttpWatcher).target, answer);
}

const PARKED = Symbol('naming: the parked query of this response');
type ParkedResponse = ServerResponse & { [PARKED]?: HttpWatcher };

/** A response's 'close' (once it is written, or the caller left): unparked if still parked. */
function onResponseClosed(this: ParkedResponse): void {
  const w = this[PARKED];
  if (w === undefined) return;
  this[PARKED] = undefined;
  w.view.unpark(w);
}

export async function namingRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  const naming = namingOf(ctx);
  const view = naming.view;
  api.addHook('onClose', async () => naming.close());

  api.get<{ Params: { selector: string } }>('/naming/:selector', { config: { access: 'viewer' } }, async (req, reply) => {
    const q = parseQuery(NamingQuery, req.query, 'naming');
    const who = req.principal;
    const question = view.question(namingSelector(req.params.selector), scopeOf(who));
    naming.lookedUpOverHttp(req.ip, who.name, question.target);
    const answer = view.current(question);
    reply.hijack();
    const res = reply.raw as ParkedResponse;
    const waitMs = Math.min(q.wait ?? NAMING_DEFAULT_WAIT_MS, NAMING_MAX_WAIT_MS);
    if (q.index === undefined || answer.index !== q.index || waitMs <= 0 || res.destroyed) {
      send(res, answer);
      return reply;
    }
    const watcher: HttpWatcher = { question, index: q.index, tick: 0, target: res, view, deliver: deliverHttp };
    res[PARKED] = watcher;
    res.once('close', onResponseClosed);
    view.park(watcher, waitMs);
    return reply;
  });

  api.get('/deps', { config: { access: 'viewer' } }, async (req): Promise<DepsView> => {
    const q = parseQuery(z.object({ selector: z.string().min(1, 'give a selector or a tag').max(512) }).strict(), req.query, 'deps');
    const who = req.principal;
    await naming.flush(); // what was looked up a moment ago is in the answer
    return naming.depsOf(q.selector, (tag) => canSee(who, tag));
  });
}

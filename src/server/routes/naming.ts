/**
 * Naming (issue 16): `GET /naming/SELECTOR`, the healthy endpoints under a selector, with
 * Consul-style blocking queries (`?index=N&wait=30s`: answered when the index moves, or at the
 * wait); and `GET /deps?selector=`, who depends on whom. Scoped like every read: a team token
 * sees the endpoints of its own subtree only. Every answer records the lookup (which host asked
 * for what) for the dependency graph.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NAMING_DEFAULT_WAIT_MS, NAMING_MAX_WAIT_MS, type DepsView, type NamingAnswer, parseDurationText } from '../../api/index.js';
import { Naming, namingSelector } from '../../naming/index.js';
import { canSee, type Principal } from '../auth.js';
import type { ServerContext } from '../context.js';
import { parseQuery } from './parse.js';

/** One Naming per server context: the routes and the DNS server read the same view. */
const namings = new WeakMap<ServerContext, Naming>();

/** The server's naming (made on first use; `startServer` starts it before it serves). */
export function namingOf(ctx: ServerContext): Naming {
  let naming = namings.get(ctx);
  if (!naming) {
    naming = new Naming({ reports: ctx.reports, store: ctx.store, nodes: () => ctx.tags.all() });
    namings.set(ctx, naming);
  }
  return naming;
}

/** `30s`, `500ms`, `2m`, or seconds as a number (at most 7 digits), in ms; the route caps it at NAMING_MAX_WAIT_MS. */
const Wait = z.string().transform((text, issue) => {
  const ms = parseDurationText(text, { units: ['ms', 's', 'm'], bare: 's', answer: 'ms', maxDigits: 7 });
  if (ms === undefined) {
    issue.addIssue({ code: 'custom', message: 'a wait is a duration such as 30s, 500ms or 2m' });
    return z.NEVER;
  }
  return ms;
});

const NamingQuery = z
  .object({
    index: z
      .string()
      .regex(/^\d{1,16}$/, 'an index is the number a previous answer gave')
      .transform(Number)
      .optional(),
    wait: Wait.optional(),
  })
  .strict();

/** A stable key of what a principal may see: waiters with the same one share an answer. */
function scopeKey(who: Principal): string {
  return who.kind === 'admin' ? '*' : `${who.kind}:${who.scope ?? ''}`;
}

/**
 * An answer's JSON, made once per answer: a change wakes every watcher of one question with the
 * same answer object (NamingView answers each question once), so 1,000 watchers cost one
 * serialization, not 1,000.
 */
const answerTexts = new WeakMap<NamingAnswer, string>();
function answerText(answer: NamingAnswer): string {
  let text = answerTexts.get(answer);
  if (text === undefined) answerTexts.set(answer, (text = JSON.stringify(answer)));
  return text;
}

export async function namingRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  const naming = namingOf(ctx);
  api.addHook('onClose', async () => naming.close());

  api.get<{ Params: { selector: string } }>('/naming/:selector', { config: { access: 'viewer' } }, async (req, reply): Promise<string> => {
    const q = parseQuery(NamingQuery, req.query, 'naming');
    const selector = namingSelector(req.params.selector);
    const who = req.principal;
    const visible = (tag: string) => canSee(who, tag);
    naming.looked(naming.view.hostAt(req.ip) ?? `token:${who.name}`, selector, 'http');
    let answer: NamingAnswer;
    if (q.index === undefined) answer = naming.view.answer(selector, visible);
    else {
      const waitMs = Math.min(q.wait ?? NAMING_DEFAULT_WAIT_MS, NAMING_MAX_WAIT_MS);
      const left = new AbortController();
      const onClose = () => left.abort();
      reply.raw.once('close', onClose);
      try {
        answer = await naming.view.wait(selector, visible, scopeKey(who), q.index, waitMs, left.signal);
      } finally {
        reply.raw.off('close', onClose);
      }
    }
    reply.header('x-noops-index', String(answer.index));
    reply.type('application/json; charset=utf-8');
    return answerText(answer);
  });

  api.get('/deps', { config: { access: 'viewer' } }, async (req): Promise<DepsView> => {
    const q = parseQuery(z.object({ selector: z.string().min(1, 'give a selector or a tag').max(512) }).strict(), req.query, 'deps');
    const who = req.principal;
    await naming.flush(); // what was looked up a moment ago is in the answer
    return naming.depsOf(q.selector, (tag) => canSee(who, tag));
  });
}

/**
 * Alarms, silences and callbacks (issue 15; docs/monitoring.md). Reads are scoped like writes: a
 * team sees the alarms and silences of its subtree (an alarm belongs to its instance's node, or
 * to its strategy's node for a host's or a pushed series). Callbacks receive every alarm, so only
 * the server's admin manages them.
 *
 *   GET    /alarms?status=problem|ok|all&selector=S&key=K&limit=N viewer -> {alarms: AlarmView[]} newest first (key: one series)
 *   POST   /alarms/:id/ack                                    deployer on the alarm's node -> AlarmView
 *   GET    /silences                                          viewer    -> {silences: SilenceView[]} (active ones)
 *   POST   /silences {selector, forSeconds, reason}           deployer on selector -> SilenceView
 *   DELETE /silences/:id                                      deployer on its selector -> SilenceView
 *   GET    /alarm-callbacks                                   server admin -> {callbacks: CallbackView[]}
 *   POST   /alarm-callbacks {url, priority?}                  server admin -> CallbackView
 *   DELETE /alarm-callbacks/:id                               server admin -> CallbackView
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type * as T from '../../api/index.js';
import { CHANNELS } from '../../bus/index.js';
import { NoopsError } from '../../errors/index.js';
import { alarmView } from '../../monitor/alarms/index.js';
import type { CallbackRow, SilenceRow } from '../../store/index.js';
import { isUnder, parseSelector } from '../../tree/index.js';
import { authorize, canSee, requireServerAdmin, type Principal } from '../auth.js';
import type { ServerContext } from '../context.js';
import { parseBody, parseQuery, TagInput } from './parse.js';

/** The most alarms one answer holds. */
export const MAX_ALARMS = 1000;
/** The longest series key `key=` takes (endpoint, metric and tags, as the push route bounds them). */
export const MAX_SERIES_KEY = 2048;
/** The longest silence: a year. */
export const MAX_SILENCE_SECONDS = 366 * 24 * 3600;

const Id = z.object({ id: z.coerce.number().int().positive() }).strict();

/**
 * A node as people give it: a tag (`cop.x_owt.y`, or a unique part of one) or a selector
 * (`cop=x,owt=y`); answers its canonical tag.
 */
export async function nodeOfInput(ctx: ServerContext, input: string): Promise<string> {
  const text = input.includes('=')
    ? parseSelector(input)
        .pairs.map((p) => `${p.key}.${p.value}`)
        .join('_')
    : input;
  if (text === '') throw new NoopsError('NOOPS_E_INPUT', 'give a node: a tag (cop.x_owt.y) or a selector (cop=x,owt=y)');
  return ctx.tags.resolveAny(text);
}

/** The node a principal's read is limited to (`under`), or null when it may see nothing there. */
function scoped(who: Principal, asked: string | undefined): string | undefined | null {
  if (who.kind === 'admin') return asked;
  const scope = who.scope;
  if (who.kind !== 'team' || scope === null) return null;
  if (asked === undefined || isUnder(asked, scope)) return asked ?? scope;
  return isUnder(scope, asked) ? scope : null;
}

function silenceView(r: SilenceRow): T.SilenceView {
  return { id: r.id, selector: r.selector, until: r.until, reason: r.reason, by: r.createdBy, createdAt: r.createdAt };
}

function callbackView(r: CallbackRow): T.CallbackView {
  return { id: r.id, url: r.url, priority: r.priority, by: r.createdBy, createdAt: r.createdAt };
}

function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new NoopsError('NOOPS_E_INPUT', `"${url}" is not a URL`, { hint: 'give an http:// or https:// URL' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new NoopsError('NOOPS_E_INPUT', `a callback is http:// or https://, not ${parsed.protocol}`);
  return parsed.toString();
}

export async function alarmRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.get('/alarms', { config: { access: 'viewer' } }, async (req): Promise<T.AlarmsView> => {
    const q = parseQuery(
      z
        .object({
          status: z.enum(['problem', 'ok', 'all']).default('problem'),
          selector: TagInput.optional(),
          // one series: its key as api/falcon.ts seriesKey builds it (endpoint/metric[/tags])
          key: z
            .string()
            .max(MAX_SERIES_KEY)
            .regex(/^[^/]+\/./, 'a series key is endpoint/metric[/tags], as GET /api/v1/metrics/series lists it')
            .optional(),
          limit: z.coerce.number().int().min(1).max(MAX_ALARMS).default(200),
        })
        .strict(),
      req.query,
      'alarms',
    );
    const asked = q.selector === undefined ? undefined : await nodeOfInput(ctx, q.selector);
    const under = scoped(req.principal, asked);
    if (under === null) return { alarms: [] };
    const rows = await ctx.store.alarms.listEvents({ status: q.status, under, seriesKey: q.key, limit: q.limit });
    return { alarms: rows.map(alarmView) };
  });

  api.post('/alarms/:id/ack', { config: { access: 'deployer' } }, async (req): Promise<T.AlarmView> => {
    const { id } = parseQuery(Id, req.params, 'alarm ack');
    parseBody(z.object({}).strict(), req.body, 'alarm ack');
    const row = await ctx.store.alarms.getEvent(id);
    if (!row || !canSee(req.principal, row.node))
      throw new NoopsError('NOOPS_E_NOT_FOUND', `no alarm ${id}`, { hint: '`noops alarms --status all` lists them' });
    authorize(req.principal, row.node, 'deployer');
    const at = new Date().toISOString();
    await ctx.store.alarms.ackEvent(id, req.principal.name, at);
    void ctx.bus.publish(CHANNELS.alarms, String(id)).catch(() => undefined);
    return alarmView({ ...row, acknowledgedBy: req.principal.name, acknowledgedAt: at });
  });

  api.get('/silences', { config: { access: 'viewer' } }, async (req): Promise<{ silences: T.SilenceView[] }> => {
    parseQuery(z.object({}).strict(), req.query, 'silence ls');
    const who = req.principal;
    const rows = await ctx.store.alarms.listSilences(new Date().toISOString());
    // a team sees the silences in its subtree and those above it that silence it
    const visible = rows.filter((s) => canSee(who, s.selector) || (who.scope !== null && isUnder(who.scope, s.selector)));
    return { silences: visible.map(silenceView) };
  });

  api.post('/silences', { config: { access: 'deployer' } }, async (req): Promise<T.SilenceView> => {
    const body = parseBody(
      z
        .object({
          selector: TagInput,
          forSeconds: z.number().int().min(1).max(MAX_SILENCE_SECONDS),
          reason: z.string().min(1, 'say why (--reason)').max(500),
        })
        .strict(),
      req.body,
      'silence add',
    );
    const node = await nodeOfInput(ctx, body.selector);
    authorize(req.principal, node, 'deployer');
    const now = Date.now();
    const row = await ctx.store.alarms.addSilence({
      selector: node,
      until: new Date(now + body.forSeconds * 1000).toISOString(),
      reason: body.reason,
      createdBy: req.principal.name,
      createdAt: new Date(now).toISOString(),
    });
    await ctx.store.audit({
      at: row.createdAt,
      actor: req.principal.name,
      action: 'silence.add',
      target: node,
      detail: { id: row.id, until: row.until, reason: row.reason },
    });
    return silenceView(row);
  });

  api.delete('/silences/:id', { config: { access: 'deployer' } }, async (req): Promise<T.SilenceView> => {
    const { id } = parseQuery(Id, req.params, 'silence rm');
    const found = (await ctx.store.alarms.listSilences()).find((s) => s.id === id);
    if (!found || !canSee(req.principal, found.selector))
      throw new NoopsError('NOOPS_E_NOT_FOUND', `no silence ${id}`, { hint: '`noops silence ls` lists them' });
    authorize(req.principal, found.selector, 'deployer');
    const row = await ctx.store.alarms.deleteSilence(id);
    if (!row) throw new NoopsError('NOOPS_E_NOT_FOUND', `no silence ${id}`);
    await ctx.store.audit({
      at: new Date().toISOString(),
      actor: req.principal.name,
      action: 'silence.rm',
      target: row.selector,
      detail: { id },
    });
    return silenceView(row);
  });

  api.get('/alarm-callbacks', { config: { access: 'server-admin' } }, async (req): Promise<{ callbacks: T.CallbackView[] }> => {
    parseQuery(z.object({}).strict(), req.query, 'alarm callback ls');
    requireServerAdmin(req.principal, 'list alarm callbacks');
    return { callbacks: (await ctx.store.alarms.listCallbacks()).map(callbackView) };
  });

  api.post('/alarm-callbacks', { config: { access: 'server-admin' } }, async (req): Promise<T.CallbackView> => {
    requireServerAdmin(req.principal, 'add alarm callbacks');
    const body = parseBody(
      z.object({ url: z.string().min(1).max(2000), priority: z.number().int().min(0).max(99).optional() }).strict(),
      req.body,
      'alarm callback add',
    );
    const row = await ctx.store.alarms.addCallback({
      url: checkUrl(body.url),
      priority: body.priority ?? null,
      createdBy: req.principal.name,
      createdAt: new Date().toISOString(),
    });
    await ctx.store.audit({
      at: row.createdAt,
      actor: req.principal.name,
      action: 'alarm.callback.add',
      target: row.url,
      detail: { id: row.id, priority: row.priority },
    });
    return callbackView(row);
  });

  api.delete('/alarm-callbacks/:id', { config: { access: 'server-admin' } }, async (req): Promise<T.CallbackView> => {
    requireServerAdmin(req.principal, 'remove alarm callbacks');
    const { id } = parseQuery(Id, req.params, 'alarm callback rm');
    const row = await ctx.store.alarms.deleteCallback(id);
    if (!row) throw new NoopsError('NOOPS_E_NOT_FOUND', `no alarm callback ${id}`, { hint: '`noops alarm callback ls` lists them' });
    await ctx.store.audit({
      at: new Date().toISOString(),
      actor: req.principal.name,
      action: 'alarm.callback.rm',
      target: row.url,
      detail: { id },
    });
    return callbackView(row);
  });
}

/**
 * Strategies bound to the tree, nodata rules and maintenance windows (issue 15): list, add,
 * remove, apply. A team manages (deployer) and reads (viewer) only those at or under its
 * subtree. Every change is audited and published on the bus (`strategies`), so every server's
 * StrategyBook reads it again.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type * as T from '../../api/index.js';
import { CHANNELS } from '../../bus/index.js';
import { NoopsError } from '../../errors/index.js';
import {
  checkFunc,
  checkMaxStep,
  checkMetric,
  checkNumber,
  checkOp,
  checkPriority,
  checkTags,
  nodePairs,
  parseDuration,
  MAX_DURATION_SECONDS,
  parseRun,
  planApply,
  type WantedStrategy,
} from '../../monitor/strategies/index.js';
import type { MaintenanceRow, NodataRow, StrategyRow } from '../../store/index.js';
import { formatSelector, matches, parseSelector, parseTag, type Selector } from '../../tree/index.js';
import { authorize, canSee, isServerAdmin, requireServerAdmin } from '../auth.js';
import type { Principal, ServerContext } from '../context.js';
import { HostName, parseBody, parseQuery } from './parse.js';

const SelectorInput = z.string().min(1, 'give a selector, e.g. cop=xiaomi,owt=miliao').max(512);
const StrategyBody = z
  .object({
    selector: SelectorInput,
    metric: z.string().max(256),
    tags: z.string().max(512).optional(),
    func: z.string().max(64).optional(),
    op: z.string().max(4).optional(),
    right: z.number().optional(),
    maxStep: z.number().optional(),
    priority: z.number().optional(),
    note: z.string().max(1000).optional(),
    run: z.string().max(32).optional(),
    off: z.boolean().optional(),
  })
  .strict();
const ApplyBody = z.object({ strategies: z.array(StrategyBody).max(10_000), dryRun: z.boolean().optional() }).strict();
const NodataBody = z
  .object({
    selector: SelectorInput,
    metric: z.string().max(256),
    tags: z.string().max(512).optional(),
    after: z.union([z.number().int().positive().max(MAX_DURATION_SECONDS), z.string().max(32)]),
    mock: z.number(),
    step: z.number().int().positive().max(MAX_DURATION_SECONDS).optional(),
  })
  .strict();
const MaintenanceBody = z
  .object({
    selector: SelectorInput.optional(),
    host: HostName.optional(),
    for: z.union([z.number().int().positive().max(MAX_DURATION_SECONDS), z.string().max(32)]),
    reason: z.string().max(1000).optional(),
  })
  .strict();
const ListQuery = z.object({ selector: z.string().max(512).optional() }).strict();
const StrategiesQuery = z.object({ selector: z.string().max(512).optional(), at: z.string().max(512).optional() }).strict();
const MaintenanceQuery = z.object({ selector: z.string().max(512).optional(), all: z.enum(['0', '1']).optional() }).strict();
const IdParams = z.object({ id: z.string().regex(/^[1-9][0-9]{0,15}$/, 'an id is a positive integer') }).strict();

/** A node's canonical tag as the selector users write: `cop=xiaomi,owt=miliao`. */
function selectorOf(node: string): string {
  return nodePairs(node)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** A stored strategy as the wire shows it. */
export function strategyView(r: StrategyRow): T.StrategyView {
  return {
    id: r.id,
    selector: selectorOf(r.node),
    metric: r.metric,
    tags: r.tags,
    func: r.func,
    op: r.op,
    right: r.right,
    maxStep: r.maxStep,
    priority: r.priority,
    note: r.note,
    run: r.runFrom !== null && r.runTo !== null ? `${r.runFrom}-${r.runTo}` : null,
    off: r.off,
    createdAt: r.createdAt,
  };
}

function nodataView(r: NodataRow): T.NodataView {
  return {
    id: r.id,
    selector: selectorOf(r.node),
    metric: r.metric,
    tags: r.tags,
    after: r.afterSeconds,
    mock: r.mock,
    step: r.step,
    createdAt: r.createdAt,
  };
}

function maintenanceView(r: MaintenanceRow): T.MaintenanceView {
  return {
    id: r.id,
    selector: r.node === null ? null : selectorOf(r.node),
    host: r.host,
    until: r.until,
    reason: r.reason,
    by: r.createdBy,
    createdAt: r.createdAt,
  };
}

function unknown(what: string, id: number): NoopsError {
  return new NoopsError('NOOPS_E_STRATEGY_UNKNOWN', `no ${what} ${id}`);
}

/** Reads `?selector=` (a selector or a tag). */
function listSelector(text: string | undefined): Selector | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  return text.includes('=') ? parseSelector(text) : { pairs: parseTag(text).pairs };
}

/**
 * How the strategies set at a node or above it stand there, as the judge resolves them for the
 * node's series (monitor/strategies' override rule, resolve.ts `resolvePath`): along the way down,
 * the lowest node with strategies of a metric and tags decides; its `off` entry leaves none.
 * Answers the rows lowest node first (then by id).
 */
export function resolveAt(rows: readonly StrategyRow[], at: Selector): Array<{ row: StrategyRow; because?: 'overridden' | 'off' }> {
  const onPath = rows
    .map((row) => ({ row, depth: nodePairs(row.node).length, key: `${row.metric}\u0000${row.tags}` }))
    .filter((s) => nodePairs(s.row.node).every(([k, v]) => at.pairs.some((p) => p.key === k && p.value === v)));
  const lowest = new Map<string, { depth: number; off: boolean }>();
  for (const s of onPath) {
    const seen = lowest.get(s.key);
    if (!seen || s.depth > seen.depth) lowest.set(s.key, { depth: s.depth, off: s.row.off });
    else if (s.depth === seen.depth && s.row.off) seen.off = true;
  }
  return onPath
    .sort((a, b) => b.depth - a.depth || a.row.id - b.row.id)
    .map((s) => {
      const decides = lowest.get(s.key)!;
      if (decides.off) return { row: s.row, because: 'off' as const };
      return s.depth < decides.depth ? { row: s.row, because: 'overridden' as const } : { row: s.row };
    });
}

/** A strategy's fields checked, as the store keeps them. */
function wanted(node: string, b: z.infer<typeof StrategyBody>): WantedStrategy {
  const metric = checkMetric(b.metric);
  const tags = checkTags(b.tags ?? '');
  const note = b.note ?? '';
  if (b.off) {
    // A switch: only where, metric and tags count.
    return { node, metric, tags, func: '', op: '', right: 0, maxStep: 0, priority: 0, note, runFrom: null, runTo: null, off: true };
  }
  const need = (field: string, v: unknown): void => {
    if (v === undefined)
      throw new NoopsError('NOOPS_E_STRATEGY_INVALID', `${field} is missing`, {
        hint: 'give --func, --op, --right, --max and --priority (or --off to switch an inherited strategy off)',
      });
  };
  need('--func', b.func);
  need('--op', b.op);
  need('--right', b.right);
  need('--max', b.maxStep);
  need('--priority', b.priority);
  const run = b.run === undefined || b.run === '' ? undefined : parseRun(b.run);
  return {
    node,
    metric,
    tags,
    func: checkFunc(b.func as string),
    op: checkOp(b.op as string),
    right: checkNumber(b.right as number, '--right'),
    maxStep: checkMaxStep(b.maxStep as number),
    priority: checkPriority(b.priority as number),
    note,
    runFrom: run?.from ?? null,
    runTo: run?.to ?? null,
    off: false,
  };
}

export async function strategyRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  /**
   * The node a selector (or tag) names, `who` checked as a deployer on it. Not created here: the
   * caller creates it (`ctx.tags.ensure`) once the whole request is checked, so a refused or
   * invalid request, or a dry run, leaves no node behind.
   */
  const nodeOf = async (input: string, who: Principal): Promise<string> => {
    const text = input.trim();
    const asTag = text.includes('=')
      ? parseSelector(text)
          .pairs.map((p) => `${p.key}.${p.value}`)
          .join('_')
      : text;
    if (asTag === '') throw new NoopsError('NOOPS_E_SELECTOR_INVALID', 'the selector is empty; give the node, e.g. cop=xiaomi,owt=miliao');
    const node = await ctx.tags.resolveAny(asTag);
    authorize(who, node, 'deployer');
    return node;
  };

  /** Tells every server's StrategyBook (after the commit: a receiver reads the store). */
  const changed = (): Promise<void> => ctx.bus.publish(CHANNELS.strategies, '');

  const audit = (who: Principal, action: string, target: string, detail: Record<string, unknown>) =>
    ctx.store.audit({ at: new Date().toISOString(), actor: who.name, action, target, detail });

  api.get('/strategies', { config: { access: 'viewer' } }, async (req): Promise<{ strategies: T.StrategyView[] } | T.StrategiesAtView> => {
    const q = parseQuery(StrategiesQuery, req.query, 'strategies');
    const rows = await ctx.store.listStrategies();
    if (q.at !== undefined) {
      if (q.selector !== undefined)
        throw new NoopsError(
          'NOOPS_E_INPUT',
          'strategies: give either selector= (those at or under it) or at= (those that apply at a node), not both',
        );
      const at = listSelector(q.at);
      if (!at) throw new NoopsError('NOOPS_E_SELECTOR_INVALID', 'at= is empty; give the node, e.g. at=cop=xiaomi,owt=miliao');
      // Resolved over every row (one above the token's scope still counts), shown only where it may look.
      const seen = resolveAt(rows, at).filter((s) => canSee(req.principal, s.row.node));
      return {
        at: formatSelector(at),
        strategies: seen.filter((s) => s.because === undefined).map((s) => strategyView(s.row)),
        notApplied: seen.flatMap((s) => (s.because === undefined ? [] : [{ ...strategyView(s.row), because: s.because }])),
      };
    }
    const sel = listSelector(q.selector);
    return {
      strategies: rows.filter((r) => canSee(req.principal, r.node) && (!sel || matches(sel, r.node))).map(strategyView),
    };
  });

  api.post('/strategies', { config: { access: 'deployer' } }, async (req): Promise<T.StrategyView> => {
    const body = parseBody(StrategyBody, req.body, 'strategy add');
    const node = await nodeOf(body.selector, req.principal);
    const w = wanted(node, body);
    await ctx.tags.ensure(node);
    const row = await ctx.store.tx(async (s) => {
      const added = await s.addStrategy({ ...w, createdBy: req.principal.name, createdAt: new Date().toISOString() });
      await s.audit({
        at: added.createdAt,
        actor: req.principal.name,
        action: 'strategy.add',
        target: node,
        detail: { id: added.id, ...w },
      });
      return added;
    });
    await changed();
    return strategyView(row);
  });

  api.delete('/strategies/:id', { config: { access: 'deployer' } }, async (req): Promise<T.StrategyView> => {
    const id = Number(parseQuery(IdParams, req.params, 'strategy rm').id);
    const row = await ctx.store.getStrategy(id);
    if (!row || !canSee(req.principal, row.node)) throw unknown('strategy', id);
    authorize(req.principal, row.node, 'deployer');
    await ctx.store.deleteStrategy(id);
    await audit(req.principal, 'strategy.rm', row.node, { id, metric: row.metric, tags: row.tags });
    await changed();
    return strategyView(row);
  });

  api.post('/strategies/apply', { config: { access: 'deployer' } }, async (req): Promise<T.StrategyApplyResult> => {
    const body = parseBody(ApplyBody, req.body, 'strategy apply');
    // Resolve, check and authorize every entry before changing anything: all or nothing.
    const nodes = new Set<string>();
    const want: WantedStrategy[] = [];
    for (const [i, entry] of body.strategies.entries()) {
      try {
        const node = await nodeOf(entry.selector, req.principal);
        nodes.add(node);
        want.push(wanted(node, entry));
      } catch (err) {
        if (!(err instanceof NoopsError)) throw err;
        throw new NoopsError(err.code, `strategy ${i + 1} (${entry.selector} ${entry.metric}): ${err.message}`, {
          hint: err.hint,
          cause: err,
        });
      }
    }
    const dryRun = body.dryRun === true;
    if (!dryRun) for (const node of nodes) await ctx.tags.ensure(node);
    const plan = await ctx.store.tx(async (s) => {
      const p = planApply(await s.listStrategies({ nodes: [...nodes] }), want);
      if (dryRun) return { plan: p, added: p.add.map((w) => ({ ...w, id: 0, createdBy: req.principal.name, createdAt: '' })) };
      const at = new Date().toISOString();
      const added: StrategyRow[] = [];
      for (const w of p.add) added.push(await s.addStrategy({ ...w, createdBy: req.principal.name, createdAt: at }));
      for (const c of p.change) await s.updateStrategy(c.from.id, c.patch);
      for (const r of p.remove) await s.deleteStrategy(r.id);
      await s.audit({
        at,
        actor: req.principal.name,
        action: 'strategy.apply',
        target: [...nodes].sort().join(' '),
        detail: { added: added.map((r) => r.id), changed: p.change.map((c) => c.from.id), removed: p.remove.map((r) => r.id) },
      });
      return { plan: p, added };
    });
    if (!dryRun && (plan.added.length > 0 || plan.plan.change.length > 0 || plan.plan.remove.length > 0)) await changed();
    return {
      added: plan.added.map(strategyView),
      changed: plan.plan.change.map((c) => ({ from: strategyView(c.from), to: strategyView(c.to) })),
      removed: plan.plan.remove.map(strategyView),
      dryRun,
    };
  });

  api.get('/nodata', { config: { access: 'viewer' } }, async (req): Promise<{ rules: T.NodataView[] }> => {
    const sel = listSelector(parseQuery(ListQuery, req.query, 'nodata').selector);
    const rows = await ctx.store.listNodata();
    return { rules: rows.filter((r) => canSee(req.principal, r.node) && (!sel || matches(sel, r.node))).map(nodataView) };
  });

  api.post('/nodata', { config: { access: 'deployer' } }, async (req): Promise<T.NodataView> => {
    const body = parseBody(NodataBody, req.body, 'nodata add');
    const node = await nodeOf(body.selector, req.principal);
    const rule = {
      metric: checkMetric(body.metric),
      tags: checkTags(body.tags ?? ''),
      afterSeconds: typeof body.after === 'number' ? body.after : parseDuration(body.after, '--after'),
      mock: checkNumber(body.mock, '--mock'),
    };
    await ctx.tags.ensure(node);
    const row = await ctx.store.addNodata({
      node,
      ...rule,
      step: body.step ?? null,
      createdBy: req.principal.name,
      createdAt: new Date().toISOString(),
    });
    await audit(req.principal, 'nodata.add', node, { id: row.id, metric: row.metric, after: row.afterSeconds, mock: row.mock });
    await changed();
    return nodataView(row);
  });

  api.delete('/nodata/:id', { config: { access: 'deployer' } }, async (req): Promise<T.NodataView> => {
    const id = Number(parseQuery(IdParams, req.params, 'nodata rm').id);
    const row = (await ctx.store.listNodata()).find((r) => r.id === id);
    if (!row || !canSee(req.principal, row.node)) throw unknown('nodata rule', id);
    authorize(req.principal, row.node, 'deployer');
    await ctx.store.deleteNodata(id);
    await audit(req.principal, 'nodata.rm', row.node, { id });
    await changed();
    return nodataView(row);
  });

  /** Whether `who` may see a window: its node's subtree, or its host's scope (the admin: all). */
  const seesWindow = (who: Principal, w: MaintenanceRow, hostScopes: Map<string, string | null>): boolean => {
    if (w.node !== null) return canSee(who, w.node);
    if (isServerAdmin(who)) return true;
    const scope = hostScopes.get(w.host ?? '');
    return scope != null && canSee(who, scope);
  };

  const hostScopes = async (): Promise<Map<string, string | null>> => new Map((await ctx.store.listHosts()).map((h) => [h.name, h.scope]));

  api.get('/maintenance', { config: { access: 'viewer' } }, async (req): Promise<{ windows: T.MaintenanceView[] }> => {
    const q = parseQuery(MaintenanceQuery, req.query, 'maintenance');
    const sel = listSelector(q.selector);
    const rows = await ctx.store.listMaintenance(q.all === '1' ? {} : { endsAfter: new Date().toISOString() });
    const scopes = await hostScopes();
    return {
      windows: rows
        .filter((w) => seesWindow(req.principal, w, scopes) && (!sel || (w.node !== null && matches(sel, w.node))))
        .map(maintenanceView),
    };
  });

  api.post('/maintenance', { config: { access: 'deployer' } }, async (req): Promise<T.MaintenanceView> => {
    const body = parseBody(MaintenanceBody, req.body, 'maintain');
    if ((body.selector === undefined) === (body.host === undefined))
      throw new NoopsError('NOOPS_E_INPUT', 'maintain: give either a selector (-t) or a host (--host), not both');
    let node: string | null = null;
    if (body.selector !== undefined) {
      node = await nodeOf(body.selector, req.principal);
    } else {
      const host = await ctx.store.getHost(body.host as string);
      if (!host) throw new NoopsError('NOOPS_E_HOST_UNKNOWN', `no host ${body.host}`);
      if (!isServerAdmin(req.principal)) {
        if (host.scope === null)
          throw new NoopsError(
            'NOOPS_E_FORBIDDEN',
            `host ${host.name} is not assigned to any node; only the admin may put it in maintenance`,
          );
        authorize(req.principal, host.scope, 'deployer');
      }
    }
    const seconds = typeof body.for === 'number' ? body.for : parseDuration(body.for, '--for');
    if (node !== null) await ctx.tags.ensure(node);
    const at = new Date();
    const row = await ctx.store.addMaintenance({
      node,
      host: body.host ?? null,
      until: new Date(at.getTime() + seconds * 1000).toISOString(),
      reason: body.reason ?? '',
      createdBy: req.principal.name,
      createdAt: at.toISOString(),
    });
    await audit(req.principal, 'maintain.add', node ?? `host ${row.host}`, { id: row.id, until: row.until, reason: row.reason });
    await changed();
    return maintenanceView(row);
  });

  api.delete('/maintenance/:id', { config: { access: 'deployer' } }, async (req): Promise<T.MaintenanceView> => {
    const id = Number(parseQuery(IdParams, req.params, 'maintain rm').id);
    const row = (await ctx.store.listMaintenance()).find((w) => w.id === id);
    if (!row || !seesWindow(req.principal, row, await hostScopes())) throw unknown('maintenance window', id);
    const where = row.node ?? (await hostScopes()).get(row.host ?? '');
    if (where != null) authorize(req.principal, where, 'deployer');
    else requireServerAdmin(req.principal, 'end the maintenance of a host assigned to no node');
    await ctx.store.deleteMaintenance(id);
    await audit(req.principal, 'maintain.rm', row.node ?? `host ${row.host}`, { id });
    await changed();
    return maintenanceView(row);
  });
}

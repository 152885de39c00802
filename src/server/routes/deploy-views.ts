/**
 * The cheap reads of a deployment (issue 19): `GET /deployments/:id/summary`, without its
 * hosts' lists, optionally blocking until it changes (`?index=N&wait=30s`, as naming's queries);
 * and `GET /deployments/:id/hosts`, its hosts a page at a time, filtered by state or batch.
 * `GET /deployments/:id` still answers the whole deployment (about 3 MB at 10,000 hosts). A
 * summary is read from memory (a running deployment this server steps) or as the deployment's
 * head and its hosts' counts (deploy-reads.ts), never every host's row; a page of hosts still
 * reads the whole deployment when it is not in memory.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  type DeploymentHostView,
  type DeploymentSummary,
  HOST_STATES,
  type HostRolloutState,
  SUMMARY_DEFAULT_WAIT_MS,
  SUMMARY_MAX_WAIT_MS,
} from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import type { DeploymentRow } from '../../store/index.js';
import { authorize } from '../auth.js';
import type { ServerContext } from '../context.js';
import { deploymentSummary, hostPage } from './deploy-summary.js';
import { NEXT_HEADER, PAGE_MAX, whole } from './paging.js';
import { BlockingQuery, parseQuery } from './parse.js';
import { deploymentOf } from './views.js';
import { summaryById } from './deploy-reads.js';

const SummaryQuery = z.object(BlockingQuery).strict();
const HostsQuery = z
  .object({ state: z.string().optional(), batch: z.string().optional(), after: z.string().optional(), limit: z.string().optional() })
  .strict();

/** `?state=failed,deploying`: states by name; NOOPS_E_INPUT naming the states there are. */
function parseStates(raw: string | undefined): HostRolloutState[] | undefined {
  if (raw === undefined) return undefined;
  const states = raw.split(',').map((s) => s.trim());
  for (const s of states) {
    if (!(HOST_STATES as readonly string[]).includes(s))
      throw new NoopsError('NOOPS_E_INPUT', `state: "${s}" is not a host's state (there are ${HOST_STATES.join(', ')})`);
  }
  return states as HostRolloutState[];
}

/** A summary request parked until its deployment's summary changes, or its wait runs out. */
interface Parked {
  index: number;
  done: (s: DeploymentSummary) => void;
}

/**
 * The summaries parked on one server, by deployment: woken by the controller's `change` event
 * (the leader's own steps, or the store read again when another server leads), each change's
 * summary worked out once for all of its waiters.
 */
class ParkedSummaries {
  private readonly byId = new Map<number, Set<Parked>>();
  private readonly onChange = (row: DeploymentRow): void => {
    const waiting = this.byId.get(row.id);
    if (!waiting) return;
    const s = deploymentSummary(row);
    for (const w of waiting) if (s.index !== w.index || s.status !== 'running') w.done(s);
  };

  constructor(private readonly ctx: ServerContext) {}

  /**
   * Parks a wait of up to `waitMs` for a summary of deployment `id` whose index is not `index`:
   * `answer` resolves with it, or with `now` at the wait's end; `wake` answers it at once.
   */
  park(
    id: number,
    index: number,
    waitMs: number,
    now: DeploymentSummary,
  ): { answer: Promise<DeploymentSummary>; wake: (s: DeploymentSummary) => void } {
    let waiting = this.byId.get(id);
    if (!waiting) {
      if (this.byId.size === 0) this.ctx.rollout.on('change', this.onChange);
      this.byId.set(id, (waiting = new Set()));
    }
    const set = waiting;
    let resolve!: (s: DeploymentSummary) => void;
    const answer = new Promise<DeploymentSummary>((r) => {
      resolve = r;
    });
    const w: Parked = {
      index,
      done: (s) => {
        clearTimeout(timer);
        set.delete(w);
        if (set.size === 0 && this.byId.get(id) === set) {
          this.byId.delete(id);
          if (this.byId.size === 0) this.ctx.rollout.off('change', this.onChange);
        }
        resolve(s);
      },
    };
    const timer = setTimeout(() => w.done(now), waitMs);
    set.add(w);
    return { answer, wake: w.done };
  }

  /** How many requests are parked (tests). */
  get size(): number {
    let n = 0;
    for (const set of this.byId.values()) n += set.size;
    return n;
  }
}

/** The parked summaries of each server context (tests look at how many wait). */
export const parkedSummaries = new WeakMap<ServerContext, ParkedSummaries>();

export async function deployViewRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  const parked = new ParkedSummaries(ctx);
  parkedSummaries.set(ctx, parked);

  api.get('/deployments/:id/summary', { config: { access: 'viewer' } }, async (req, reply): Promise<DeploymentSummary> => {
    const q = parseQuery(SummaryQuery, req.query, 'deployment summary');
    const raw = (req.params as { id: string }).id;
    let s = await summaryById(ctx, raw, req.principal); // its head and counts: never every host's row
    authorize(req.principal, s.tag, 'viewer');
    const waitMs = Math.min(q.wait ?? SUMMARY_DEFAULT_WAIT_MS, SUMMARY_MAX_WAIT_MS);
    if (q.index !== undefined && q.index === s.index && s.status === 'running' && waitMs > 0) {
      const now = s;
      const { answer, wake } = parked.park(s.id, q.index, waitMs, now);
      reply.raw.once('close', () => wake(now)); // the caller left: nothing waits any more
      if (ctx.rollout.current(s.id) === undefined) {
        // Another server leads: read again now that a change wakes this wait, so one written
        // between the first read and the park is not missed.
        const again = await summaryById(ctx, raw, req.principal);
        if (again.index !== q.index || again.status !== 'running') wake(again);
      }
      s = await answer;
    }
    void reply.header('x-noops-index', String(s.index));
    return s;
  });

  api.get('/deployments/:id/hosts', { config: { access: 'viewer' } }, async (req, reply): Promise<DeploymentHostView[]> => {
    const q = parseQuery(HostsQuery, req.query, 'deployment hosts');
    const states = parseStates(q.state);
    const batch = whole(q.batch, 'batch', 0);
    const limit = Math.min(whole(q.limit, 'limit', 1) ?? PAGE_MAX, PAGE_MAX);
    const row = await deploymentOf(ctx, (req.params as { id: string }).id, req.principal);
    authorize(req.principal, row.tag, 'viewer');
    const page = hostPage(row, { states, batch, after: q.after, limit });
    if (page.next !== undefined) void reply.header(NEXT_HEADER, page.next);
    return page.hosts;
  });
}

/**
 * `POST /hosts/:name/adopt` (admin only): makes this server's answers acceptable again to a
 * host's agent that refuses them (another database identity, a database gone back in time, too
 * many stops at once; docs/trust.md). It says what the agent will then stop and switch, and
 * does it only when told `yes` if anything would; it raises the host's generation above the one
 * the agent applied, marks the host's answers with the agent's refusal id, and audits it.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { HostAdoptView } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import type { ServerContext } from '../context.js';
import { adoptedKey, adoptPlan, type Adoption } from '../trust.js';
import { HostName, parseBody } from './parse.js';

const AdoptBody = z.object({ yes: z.boolean().default(false) }).strict();

export async function hostAdoptRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.post('/hosts/:name/adopt', { config: { access: 'server-admin' } }, async (req): Promise<HostAdoptView> => {
    const name = parseBody(HostName, (req.params as { name: string }).name, 'host name');
    const { yes } = parseBody(AdoptBody, req.body ?? {}, 'adopt');
    if (!(await ctx.store.getHost(name))) throw new NoopsError('NOOPS_E_HOST_UNKNOWN', `no host "${name}" has joined this server`);
    const report = ctx.reports.lastReport(name);
    const trust = report?.trust;
    if (trust?.state !== 'refused' || trust.refusal === undefined) {
      throw new NoopsError(
        'NOOPS_E_ADOPT_NOTHING',
        report === undefined
          ? `host ${name} has not reported to this server since it started: nothing to adopt yet (try again after its next heartbeat)`
          : `host ${name}'s agent does not refuse this server: nothing to adopt`,
      );
    }
    const desired = await ctx.store.getDesired(name);
    const running = [...new Map(report!.processes.map((p) => [p.tag, { tag: p.tag, version: p.version }])).values()];
    const plan = adoptPlan(running, desired.entries);
    const reason = trust.reason ?? 'refused';
    if (!yes && plan.stops.length + plan.switches.length > 0) {
      const what = [
        ...plan.stops.map((s) => `stop ${s.tag} (${s.version})`),
        ...plan.switches.map((s) => `switch ${s.tag} from ${s.from} to ${s.to}`),
      ];
      throw new NoopsError(
        'NOOPS_E_ADOPT_CONFIRM',
        `adopting ${name} would make its agent ${what.join(', ')}; nothing was changed (it refuses because ${reason})`,
      );
    }
    // Above both: the generation the agent applied (a restored backup is lower) and this server's own.
    const generation = await ctx.store.raiseDesiredGeneration(name, Math.max(desired.generation, trust.generation) + 1);
    const at = new Date().toISOString();
    const adoption: Adoption = { refusal: trust.refusal, generation, by: req.principal.name, at };
    try {
      await ctx.store.setMeta(adoptedKey(name), JSON.stringify(adoption));
      await ctx.store.audit({
        at,
        actor: req.principal.name,
        action: 'host.adopt',
        target: name,
        detail: { refusal: trust.refusal, reason, followed: trust.server, generation, ...plan },
      });
    } finally {
      // after the stamp (the answer a woken poll reads carries it), and even if a write after the
      // raised generation failed: every server forgets the host's generation and answer
      ctx.hub.notify(name);
    }
    return { host: name, refusal: trust.refusal, reason, generation, ...plan };
  });
}

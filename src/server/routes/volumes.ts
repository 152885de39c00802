/**
 * The containers' volumes (issue 17, docs/containers.md "Volumes"): `GET /volumes[?host=H]`
 * (`noops volume ls`) asks each host's agent for the engine volumes noops made there, through the
 * command channel (a `volumes` command: the answer is the engine's, not a stale copy), and shows
 * those under the caller's scopes; `DELETE /volumes/:host/:name` (`noops volume rm`) queues a
 * `volume-rm` for the agent, which removes the volume only when noops made it and no container
 * mounts it. The server's admin, or a deployer of the volume's tag. Removals are audited.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { CommandView, HostVolumesView, VolumeRemoved, VolumeReport, VolumesView } from '../../api/index.js';
import { isErrorCode, NoopsError } from '../../errors/index.js';
import { LEVELS } from '../../tree/index.js';
import { ENDED } from '../agent-commands.js';
import { authorize, canSee } from '../auth.js';
import type { Principal, ServerContext } from '../context.js';
import { HostName, parseQuery } from './parse.js';
import { hostViews } from './views.js';

/** 10 s: how long a host's agent has to answer a volumes command before it is reported as not answering. */
export const VOLUMES_WAIT_MS = 10_000;
/** An engine volume's name, as noops makes them (and as the engine allows). */
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$/;

export async function volumeRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  api.get('/volumes', { config: { access: 'viewer' } }, async (req): Promise<VolumesView> => {
    const q = parseQuery(z.object({ host: HostName.optional() }).strict(), req.query, 'volumes');
    const visible = await hostViews(ctx, req.principal);
    if (q.host !== undefined && !visible.some((h) => h.name === q.host))
      throw new NoopsError('NOOPS_E_HOST_UNKNOWN', `no host named ${q.host}`);
    const hosts = visible.filter((h) => q.host === undefined || h.name === q.host);
    return {
      hosts: await Promise.all(
        hosts.map((h) => (h.status === 'up' ? hostVolumes(ctx, req.principal, h.name) : notAsked(h.name, h.lastHeartbeat))),
      ),
    };
  });

  api.delete('/volumes/:host/:name', { config: { access: 'viewer' } }, async (req): Promise<VolumeRemoved> => {
    const { host, name } = req.params as { host: string; name: string };
    if (!HostName.safeParse(host).success) throw new NoopsError('NOOPS_E_INPUT', `"${host}" is not a host name`);
    if (!VOLUME_NAME.test(name)) throw new NoopsError('NOOPS_E_INPUT', `"${name}" is not a volume name`);
    // as for the list: a host the caller may not see is unknown, and a down one is not asked (it would not answer)
    const view = (await hostViews(ctx, req.principal)).find((h) => h.name === host);
    if (view === undefined) throw new NoopsError('NOOPS_E_HOST_UNKNOWN', `no host named ${host}`);
    const listed = view.status === 'up' ? await hostVolumes(ctx, req.principal, host) : notAsked(host, view.lastHeartbeat);
    if (listed.error) throw fromAgent(listed.error);
    // one the caller may not see is as unknown as one that is not there
    const volume = listed.volumes.find((v) => v.name === name);
    if (volume === undefined)
      throw new NoopsError('NOOPS_E_VOLUME_UNKNOWN', `no volume of noops named ${name} on host ${host} (of those you may see)`);
    authorize(req.principal, volume.tag, 'deployer');
    await ask(ctx, req.principal, host, 'volume-rm', volume.tag, name);
    await ctx.store.audit({
      at: new Date().toISOString(),
      actor: req.principal.name,
      action: 'volume.rm',
      target: volume.tag,
      detail: { host, volume: name },
    });
    return { host, name, tag: volume.tag };
  });
}

/** One host's volumes that `who` may see, or why its agent did not give them. */
async function hostVolumes(ctx: ServerContext, who: Principal, host: string): Promise<HostVolumesView> {
  try {
    const result = (await ask(ctx, who, host, 'volumes', scopeOf(who), null)) as VolumeReport[];
    return { host, volumes: (Array.isArray(result) ? result : []).filter((v) => canSee(who, v.tag)), error: null };
  } catch (err) {
    const e = err instanceof NoopsError ? err : new NoopsError('NOOPS_E_INTERNAL', (err as Error).message);
    return { host, volumes: [], error: e.toJSON() };
  }
}

/** A host that is down: its agent is not asked (it would not answer), and the view says so at once. */
function notAsked(host: string, lastHeartbeat: string | null): HostVolumesView {
  const since = lastHeartbeat === null ? 'it never reported' : `its last heartbeat was at ${lastHeartbeat}`;
  const e = new NoopsError('NOOPS_E_COMMAND_TIMEOUT', `host ${host} is down (${since}): its agent was not asked`);
  return { host, volumes: [], error: e.toJSON() };
}

/** The tag a list command is filed under: the caller's scope (the tree's root for the admin). */
function scopeOf(who: Principal): string {
  return who.scope ?? LEVELS[0];
}

/** Queues a command for the host's agent and waits for its end: its result, or its error thrown. */
async function ask(
  ctx: ServerContext,
  who: Principal,
  host: string,
  action: 'volumes' | 'volume-rm',
  tag: string,
  volume: string | null,
): Promise<unknown> {
  const cmd = await ctx.commands.create({ host, action, tag, process: volume, lines: 0, follow: false, initiator: who.name });
  const deadline = Date.now() + VOLUMES_WAIT_MS;
  let view: CommandView = cmd;
  while (!ENDED.includes(view.status)) {
    const left = deadline - Date.now();
    if (left <= 0) {
      await ctx.commands.cancel(cmd.id);
      throw new NoopsError('NOOPS_E_COMMAND_TIMEOUT', `the agent of ${host} did not answer within ${VOLUMES_WAIT_MS / 1000} s`);
    }
    view = await ctx.commands.read(cmd.id, view.offset, left);
  }
  if (view.status === 'done') return view.result;
  if (view.error) throw fromAgent(view.error);
  throw new NoopsError('NOOPS_E_COMMAND_TIMEOUT', `the agent of ${host} did not answer (the command ended ${view.status})`);
}

/** An agent's error as the person's: its code when it is one of noops', else internal. */
function fromAgent(e: { code: string; message: string; hint: string }): NoopsError {
  return new NoopsError(isErrorCode(e.code) ? e.code : 'NOOPS_E_INTERNAL', e.message, { hint: e.hint });
}

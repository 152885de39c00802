/**
 * The scheduler loop's ports over the server (schedule-ports.ts): the store for hosts, clusters,
 * desired entries, releases and the history; the read model for reports and last heartbeats; the
 * rollout for deploying new hosts and undeploying those that leave (the paths `noops deploy` and
 * `cluster set --yes` take), so naming and load balancers follow as for any deploy; the hub to
 * wake a host whose entry is dropped.
 */
import { CHANNELS } from '../bus/index.js';
import type { Fence, NewPlacementEvent, Store } from '../store/index.js';
import type { LoopCluster, LoopHost, ScheduleState, ScheduleWriter } from './schedule-ports.js';
import type { ServerContext } from './context.js';
import { jobOf } from '../rollout/index.js';
import { runsInContainers, setDesiredReplicas } from './schedule-replicas.js';

/** Who the scheduler's deployments and audit entries name. */
export const SCHEDULER = 'scheduler';

/** The state reader over the server's store and read model. */
export function scheduleState(ctx: Pick<ServerContext, 'store' | 'reports'>): ScheduleState {
  const { store, reports } = ctx;
  return {
    async hosts(): Promise<LoopHost[]> {
      return (await store.listHosts()).map((h) => ({
        name: h.name,
        labels: h.labels,
        lastSeen: reports.lastSeen(h.name, h.lastHeartbeat),
        draining: h.draining === true,
        scope: h.scope,
        capacity: h.capacity ? { cpu: h.capacity.cpu, memory: h.capacity.memory, disk: h.capacity.disk } : null,
      }));
    },
    async scheduledClusters(): Promise<LoopCluster[]> {
      const out: LoopCluster[] = [];
      // only the scheduled ones: the loop wakes at every change of a deployment, and a cluster
      // named by hand may hold 10,000 hosts (its list parsed some 1,000 times a minute in a deploy)
      for (const c of await store.listClusters({ scheduled: true }))
        if (c.schedule) out.push({ tag: c.tag, hosts: c.hosts, spec: c.schedule, ...(c.replicas && { replicas: c.replicas }) });
      return out;
    },
    async desired(tag) {
      return (await store.listDesiredHeads(tag)).map((d) => ({
        host: d.host,
        version: d.version,
        ...(d.replicas != null && { replicas: d.replicas }),
      }));
    },
    async deploying(tag) {
      return (await store.listDeploymentHeads({ tag, status: 'running', limit: 1 })).length > 0; // its head: not every host's part
    },
    async version(tag) {
      return clusterVersion(store, tag);
    },
    reportedTags(host) {
      const r = reports.lastReport(host);
      return r ? [...new Set(r.processes.map((p) => p.tag))] : undefined;
    },
    async fixedPorts(tag, version) {
      if (version === null) return [];
      const release = await store.getRelease(jobOf(tag), version);
      // in containers each process listens on its own address: a fixed port takes none of the host's (replicas share the host)
      if (release && runsInContainers(release.manifest, (await store.getCluster(tag))?.policy)) return [];
      const processes = (release?.manifest as { processes?: { port?: unknown }[] } | undefined)?.processes ?? [];
      return processes.map((p) => p.port).filter((p): p is number => typeof p === 'number');
    },
    async staleCopies() {
      return (await store.listStaleCopies()).map((s) => ({ host: s.host, tag: s.tag }));
    },
    async rebalanceRequests() {
      return (await store.schedule.pendingRebalanceRequests()).map((r) => ({
        id: r.id,
        actor: r.actor,
        maxMoves: r.maxMoves,
        movable: r.movable,
      }));
    },
    async vacating() {
      return new Map((await store.schedule.listVacating()).map((v) => [v.host, Date.parse(v.since)]));
    },
    now() {
      return store.databaseNow();
    },
  };
}

/** The version a cluster runs: its hosts' most common, else its last deploy's (null: never deployed). */
export async function clusterVersion(store: Store, tag: string): Promise<string | null> {
  const counts = new Map<string, number>();
  for (const d of await store.listDesiredHeads(tag)) counts.set(d.version, (counts.get(d.version) ?? 0) + 1);
  let best: string | null = null;
  for (const [v, n] of counts) if (best === null || n > counts.get(best)!) best = v;
  if (best !== null) return best;
  const done = await store.listDeploymentHeads({ tag, status: 'succeeded', limit: 20 });
  return done.find((d) => d.kind !== 'undeploy')?.version ?? null;
}

/**
 * The writer over the server: the store, the rollout, the hub and the bus. `fenceOf` answers the
 * fence under which this server last gained the schedule loop on a shared database, kept after it
 * lost it (schedule-wiring.ts): every write of the loop then goes through `Store.fenced`, refused
 * (NOOPS_E_FENCED) once another server took the loop or the lease expired, so a leader that lost
 * its lease mid-tick cannot overwrite the new leader's placements, entries or stale copies. A
 * deploy or undeploy goes through the rollout (any server may start one): the fence is checked
 * just before it is asked. Undefined (one server on SQLite): a plain transaction.
 */
export function scheduleWriter(
  ctx: Pick<ServerContext, 'store' | 'rollout' | 'hub' | 'bus'>,
  log: (line: string) => void,
  fenceOf: () => Fence | undefined = () => undefined,
): ScheduleWriter {
  const { store } = ctx;
  const write = <T>(fn: (s: Store) => Promise<T>): Promise<T> => {
    const fence = fenceOf();
    return fence ? store.fenced(fence, fn) : store.tx(fn);
  };
  /** Refused (NOOPS_E_FENCED) when this server no longer leads the loop; nothing without a fence. */
  const stillLeads = async (): Promise<void> => {
    const fence = fenceOf();
    if (fence) await store.fenced(fence, async () => undefined);
  };
  return {
    async setPlacements(tag, hosts, events, replicas) {
      const at = new Date().toISOString();
      await write(async (s) => {
        const c = await s.getCluster(tag);
        if (!c) return;
        await s.putCluster({ tag, hosts, policy: c.policy, conf: c.conf, updatedAt: at });
        if (replicas !== undefined) await s.replicas.setClusterReplicas(tag, replicas);
        await s.recordPlacements(events.map((e) => ({ ...e, at })));
        await s.audit({ at, actor: SCHEDULER, action: 'cluster.schedule', target: tag, detail: { hosts, events } });
      });
      await ctx.bus.publish(CHANNELS.tree, 'clusters');
    },
    async setReplicas(tag, changes) {
      await write((s) => setDesiredReplicas(s, tag, changes));
      for (const c of changes) ctx.hub.notify(c.host);
    },
    async deployTo(tag, version, hosts) {
      await stillLeads();
      await ctx.rollout
        .startDeploy({ tag, version, kind: 'deploy', initiator: SCHEDULER, hosts })
        .catch((err: Error) => log(`schedule: could not deploy ${tag} ${version} to ${hosts.join(', ')}: ${err.message}`));
    },
    async undeployFrom(tag, hosts) {
      await stillLeads();
      await ctx.rollout
        .startUndeploy({ tag, initiator: SCHEDULER, hosts })
        .catch((err: Error) => log(`schedule: could not stop ${tag} on ${hosts.join(', ')}: ${err.message}`));
    },
    async dropDead(tag, host) {
      const since = new Date().toISOString();
      await write(async (s) => {
        await s.addStaleCopy({ host, tag, since });
        await s.setDesired(host, tag, null);
      });
      ctx.hub.notify(host); // first: its generation moved, whatever the bus does next
      await ctx.bus.publish(CHANNELS.schedule, 'stale');
    },
    async clearStale(host, tag, event: NewPlacementEvent) {
      await write(async (s) => {
        if (await s.removeStaleCopy(host, tag)) await s.recordPlacements([event]);
      });
      await ctx.bus.publish(CHANNELS.schedule, 'stale');
    },
    async rebalanced(request, changes, view) {
      const at = new Date().toISOString();
      const done = await write(async (s) => {
        if (!(await s.schedule.finishRebalanceRequest(request.id, { moves: view.moves, freedHosts: view.freedHosts }, at))) return false;
        for (const c of changes) {
          const row = await s.getCluster(c.tag);
          if (!row) continue;
          await s.putCluster({ tag: c.tag, hosts: c.hosts, policy: row.policy, conf: row.conf, updatedAt: at });
          await s.replicas.setClusterReplicas(c.tag, c.replicas);
          await s.recordPlacements(c.events.map((e) => ({ ...e, at })));
          await s.audit({ at, actor: SCHEDULER, action: 'cluster.schedule', target: c.tag, detail: { hosts: c.hosts, events: c.events } });
        }
        if (view.moves.length > 0)
          await s.audit({
            at,
            actor: request.actor,
            action: 'rebalance',
            target: '',
            detail: { moves: view.moves, freedHosts: view.freedHosts },
          });
        return true;
      });
      if (done && changes.length > 0) await ctx.bus.publish(CHANNELS.tree, 'clusters');
      return done;
    },
    async setVacating(add, remove) {
      await write((s) =>
        s.schedule.setVacating(
          add.map((v) => ({ host: v.host, since: new Date(v.at).toISOString() })),
          remove,
        ),
      );
    },
  };
}

/**
 * Everything a route needs, built once by `startServer` and passed to every route module.
 */
import type { VictoriaMetricsBackend } from '../monitor/victoria/index.js';
import type { Store } from '../store/index.js';
import type { ArtifactStore } from '../artifacts/index.js';
import type { RolloutController } from '../rollout/index.js';
import type { BuildRunner } from '../build/runner.js';
import type { ImportDeps } from '../import/import.js';
import type { ReleaseSigner } from '../release/signing.js';
import type { StoredTree } from '../tree/stored-tree.js';
import type { DesiredHub } from './hub.js';
import type { ActualState } from '../monitor/index.js';
import type { CommandQueue } from './agent-commands.js';
import type { RuntimeCatalog } from '../runtimes/catalog.js';
import type { DesiredView } from './desired-view.js';
import type { ChangeBus } from '../bus/index.js';
import type { Leadership } from '../lead/index.js';
import type { ServerMetrics } from './metrics-wiring.js';
import type { Balancers } from '../balance/index.js';
import type { NetworkBook } from '../network/index.js';

export interface ServerConfig {
  dataDir: string;
  /** how often agents report */
  heartbeatMs: number;
  /** a host whose last report is older than this is down */
  downAfterMs: number;
  /** the longest an agent's desired-state long poll is held open */
  longPollMs: number;
  /** packages smaller than this go whole from the server, never peer to peer (docs/packages-p2p.md) */
  swarmWholeBelowBytes: number;
  /**
   * the tracker sends peers to any URL an agent says it serves at (`--trust-peer-urls`); false:
   * only to the address this server sees the agent at, or the URL it stated when it joined
   */
  trustPeerUrls: boolean;
}

export interface ServerContext {
  config: ServerConfig;
  store: Store;
  artifacts: ArtifactStore;
  hub: DesiredHub;
  /** tells every server on the same database what changed (src/bus/; in-process on SQLite) */
  bus: ChangeBus;
  /** each host's desired-state answer, resolved (src/server/desired-view.ts) */
  desired: DesiredView;
  /** the one read model of what runs where (the agents' reports, the store behind them) */
  reports: ActualState;
  rollout: RolloutController;
  builds: BuildRunner;
  /** the service tree's nodes: resolves the tags users type, creates nodes on first use */
  tags: StoredTree;
  /** the commands people queued for agents (`noops restart`, `noops logs`) and their output */
  commands: CommandQueue;
  runtimes: RuntimeCatalog;
  /** signs every release this server stores (src/release/signing.ts) */
  signer: ReleaseSigner;
  /** which control loops this server leads among the servers of its database (src/lead/) */
  leadership: Leadership;
  /** metric points in (reports, pushes), the judge's feed, history (server/metrics-wiring.ts) */
  metrics: ServerMetrics;
  /** VictoriaMetrics, when `--victoria-metrics` names one (src/server/victoria-wiring.ts) */
  victoria?: VictoriaMetricsBackend;
  /** load-balancer pools: members, each balancer host's desired pools, drain marks, reports (src/balance/) */
  balancers: Balancers;
  /** the scheduler: its loop (led by one server), plans, rebalances, stale copies (server/schedule-wiring.ts); absent in route tests that need none */
  schedule?: import('./schedule-wiring.js').ScheduleService;
  /** the containers' address pool and each host's subnet (src/network/) */
  network: NetworkBook;
}

/** What an importer needs to sign: releases imported from elsewhere are signed like built ones. */
export function importDeps(ctx: { store: Store; artifacts: ArtifactStore; signer: ReleaseSigner }): ImportDeps {
  return {
    store: ctx.store,
    artifacts: ctx.artifacts,
    sign: async (r) => {
      r.signature = ctx.signer.sign(r);
    },
  };
}

export type { Principal } from './auth.js';

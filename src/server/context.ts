/**
 * Everything a route needs, built once by `startServer` and passed to every route module.
 */
import type { Store } from '../store/index.js';
import type { ArtifactStore } from '../artifacts/index.js';
import type { RolloutController } from '../rollout/index.js';
import type { DesiredHub } from './hub.js';
import type { DesiredView } from './desired-view.js';
import type { ReportBook } from './reports.js';
import type { BuildRunner } from './builds.js';
import type { TagBook } from './tags.js';
import type { CommandBook } from './commands.js';
import type { RuntimeCatalog } from './runtime-catalog.js';
import type { ReleaseSigner } from './signing.js';

export interface ServerConfig {
  dataDir: string;
  /** how often agents report */
  heartbeatMs: number;
  /** a host whose last report is older than this is down */
  downAfterMs: number;
  /** the longest an agent's desired-state long poll is held open */
  longPollMs: number;
}

export interface ServerContext {
  config: ServerConfig;
  store: Store;
  artifacts: ArtifactStore;
  hub: DesiredHub;
  /** each host's desired-state answer, resolved (src/server/desired-view.ts) */
  desired: DesiredView;
  reports: ReportBook;
  rollout: RolloutController;
  builds: BuildRunner;
  tags: TagBook;
  commands: CommandBook;
  runtimes: RuntimeCatalog;
  /** signs every release this server stores (src/server/signing.ts) */
  signer: ReleaseSigner;
}

export type { Principal } from './auth.js';

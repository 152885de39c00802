/**
 * Wire types of strategies bound to the tree, nodata rules and maintenance windows (issue 15):
 * what the routes answer and take, `noops strategy|nodata|maintain ... --json` print.
 */

/** A strategy as listed (`GET /api/v1/strategies` -> `{ strategies: StrategyView[] }`). */
export interface StrategyView {
  id: number;
  /** the node it is bound to, as a selector: `cop=xiaomi,owt=miliao,pdl=account` */
  selector: string;
  metric: string;
  /** Falcon's `k=v,k=v` (sorted); '' for none */
  tags: string;
  func: string;
  op: string;
  right: number;
  maxStep: number;
  /** Falcon's P0-P6: 0 is the highest */
  priority: number;
  note: string;
  /** `HH:MM-HH:MM` in the server's local time, or null: always */
  run: string | null;
  /** true: switches the same metric and tags off at this node and below */
  off: boolean;
  createdAt: string;
}

/**
 * A strategy as given (`POST /api/v1/strategies`, each entry of `strategy apply`). With `off`,
 * only selector, metric and tags count.
 */
export interface StrategyInput {
  /** a selector (`cop=xiaomi,owt=miliao`) or a tag naming one node */
  selector: string;
  metric: string;
  tags?: string;
  func?: string;
  op?: string;
  right?: number;
  maxStep?: number;
  priority?: number;
  note?: string;
  run?: string;
  off?: boolean;
}

/** `POST /api/v1/strategies/apply`: the file's strategies; the selectors they name end up with exactly these. */
export interface StrategyApplyBody {
  strategies: StrategyInput[];
  /** say what would change, change nothing */
  dryRun?: boolean;
}

/** What an apply added, changed (in place, the id kept) and removed. */
export interface StrategyApplyResult {
  added: StrategyView[];
  changed: { from: StrategyView; to: StrategyView }[];
  removed: StrategyView[];
  dryRun: boolean;
}

/** A nodata rule (`GET /api/v1/nodata` -> `{ rules: NodataView[] }`). */
export interface NodataView {
  id: number;
  selector: string;
  metric: string;
  tags: string;
  /** seconds without a point before the mock value is pushed */
  after: number;
  mock: number;
  /** seconds between mock points; null: the series' own step */
  step: number | null;
  createdAt: string;
}

/** `POST /api/v1/nodata`. `after`: seconds, or a duration (`120s`, `5m`). */
export interface NodataInput {
  selector: string;
  metric: string;
  tags?: string;
  after: number | string;
  mock: number;
  step?: number;
}

/** A maintenance window (`GET /api/v1/maintenance` -> `{ windows: MaintenanceView[] }`). */
export interface MaintenanceView {
  id: number;
  /** the node it covers (as a selector), or null for a host's */
  selector: string | null;
  host: string | null;
  until: string;
  reason: string;
  by: string;
  createdAt: string;
}

/** `POST /api/v1/maintenance`: a selector or a host, for a duration (`2h`, or seconds). */
export interface MaintenanceInput {
  selector?: string;
  host?: string;
  for: number | string;
  reason?: string;
}

/** A strategy set at a node or above that does not apply there, and why. */
export interface StrategyNotApplied extends StrategyView {
  /** `overridden`: a lower node on the way has one for the same metric and tags; `off`: switched off there */
  because: 'overridden' | 'off';
}

/**
 * `GET /api/v1/strategies?at=NODE`: the strategies set at the node or above it (only those the
 * token may see), lowest node first, as the judge resolves them for the node's series.
 */
export interface StrategiesAtView {
  /** the node asked about, as a selector */
  at: string;
  /** those that apply at the node */
  strategies: StrategyView[];
  /** those that do not: replaced by a lower node's, or switched off */
  notApplied: StrategyNotApplied[];
}

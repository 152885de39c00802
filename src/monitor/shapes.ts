/**
 * One shape per concept, tied at compile time. The report's zod schema (`report-schema.ts`) is
 * the source of the report's types; the wire types the agent builds (api/types.ts, which the agent
 * imports without zod or the server) must equal them; and a stored instance row (`InstanceRow`,
 * whose table `InstancesTable` is derived from it in store/schema.ts) is the reported process's
 * stored fields plus its host and time. A change to one without the others fails `npm run build`
 * (which `npm test` runs first) here, with the pair that drifted named in the error.
 *
 * Types only: nothing here exists at run time. `shapes.test.ts` checks the same ties on real
 * values (a parsed report, its rows, the store's answer).
 */
import type * as Wire from '../api/index.js';
import type { InstanceRow } from '../store/index.js';
import type * as Schema from './report-schema.js';

/** True when A and B are the same type (not merely assignable one way). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Fails to compile unless given `true`. */
type Holds<T extends true> = T;
/** An intersection as one object type, so that `Equals` compares fields, not how a type was written. */
type Flat<T> = { [K in keyof T]: T[K] };

/** The fields of a reported process that the store keeps, one row per process. */
export type StoredProcessField =
  | 'tag'
  | 'process'
  | 'version'
  | 'state'
  | 'pid'
  | 'port'
  | 'restarts'
  | 'startedAt'
  | 'error'
  | 'container'
  | 'address';
/** The fields of a reported process that only the last report holds (in memory, for the rollout). */
export type ReportOnlyProcessField = 'health' | 'healthySince' | 'healthError' | 'downloaded' | 'oom';

/**
 * An instance row as derived from the report: what `instanceRows` makes. A field the report may
 * leave out (`container`, `address`: a host process, or an agent before containers) is stored as null.
 */
export type InstanceRowOfReport = Flat<{ host: string } & Required<Pick<Schema.ProcessReport, StoredProcessField>> & { updatedAt: string }>;

/** Each pair must hold; a new field in one of them names its pair in the compiler's error. */
export type ShapesAgree = [
  Holds<Equals<Schema.ReportBody, Wire.AgentReport>>,
  Holds<Equals<Schema.ProcessReport, Wire.ProcessReport>>,
  Holds<Equals<Schema.FailureReport, Wire.FailureReport>>,
  Holds<Equals<Schema.Metric, Wire.MetricSample>>,
  Holds<Equals<Schema.Event, Wire.EventReport>>,
  Holds<Equals<Schema.Cron, Wire.CronReport>>,
  Holds<Equals<Schema.TrustReport, Wire.TrustReport>>,
  Holds<Equals<Schema.RuntimesReport, Wire.HostRuntimeReport>>,
  Holds<Equals<Schema.CapacityReport, Wire.HostCapacity>>,
  // every reported field is either stored or deliberately kept out of the store
  Holds<Equals<keyof Schema.ProcessReport, StoredProcessField | ReportOnlyProcessField>>,
  Holds<Equals<Flat<InstanceRow>, InstanceRowOfReport>>,
];

/**
 * The judge's vocabulary (issue 15), shared by the judge (judge/), the strategies that feed it
 * (strategies in the store, resolved per series) and the alarms that take its events.
 * Faithful to Open-Falcon's judge: the names of fields are Falcon's where Falcon has one.
 */
import type { CounterType } from '../../api/index.js';

/** One point as the judge takes it: timestamp already aligned to its step. */
export interface JudgePoint {
  endpoint: string;
  metric: string;
  /** the sorted `k=v,k=v` string (api/falcon.ts falconTagString) */
  tags: string;
  counterType: CounterType;
  /** seconds, aligned to the step */
  timestamp: number;
  value: number;
}

/**
 * One strategy, as the judge applies it. `endpoint` set: bound to that host (Falcon's strategy
 * of a host group, expanded per host); unset: bound by its tags alone (Falcon's expression).
 */
export interface JudgeStrategy {
  /** stable id: events are keyed by strategy id and series */
  id: string;
  metric: string;
  /** every one must be on the series (a tag named `endpoint` matches the series' endpoint) */
  tags: Record<string, string>;
  endpoint?: string;
  /** `all(#3)`, `lookup(#2,3)`, `kpdiff(#3,3)`, ... */
  func: string;
  /** `==`, `=`, `!=`, `<`, `<=`, `>`, `>=` */
  op: string;
  right: number;
  maxStep: number;
  priority: number;
  note?: string;
}

/** PROBLEM or OK, as Falcon sends them. */
export type EventStatus = 'PROBLEM' | 'OK';

/** One event the judge sends (Falcon's model.Event, flattened). */
export interface JudgeEvent {
  /** Falcon's event id: `s_<strategy>_<series key>` for host-bound, `e_<strategy>_<series key>` for tag-bound */
  id: string;
  strategy: JudgeStrategy;
  endpoint: string;
  metric: string;
  tags: string;
  status: EventStatus;
  currentStep: number;
  leftValue: number;
  /** the data timestamp of the point that produced it (seconds) */
  eventTime: number;
  priority: number;
}

/** The judge's settings, Falcon's names: points kept per series, seconds between repeats. */
export interface JudgeConfig {
  /** points kept per series (Falcon's `remain`, 11) */
  remain: number;
  /** least seconds between two PROBLEM events of a series and strategy, from the last one's data time (Falcon's `minInterval`, 300) */
  minInterval: number;
}

export const DEFAULT_JUDGE_CONFIG: JudgeConfig = { remain: 11, minInterval: 300 };

/**
 * From a judge event to the row stored and the view people read (pure): which node of the tree
 * an alarm belongs to (who may see it, which silences cover it), and Falcon's event rebuilt from
 * a stored row (to seed a judge that takes the lease over).
 */
import type { AlarmView } from '../../api/index.js';
import { parseFalconTags, seriesKey } from '../../api/index.js';
import type { AlarmEventRow, NewAlarmEvent, SilenceRow } from '../../store/index.js';
import { isUnder, LEVELS, parseTag } from '../../tree/index.js';
import type { JudgeEvent } from '../judge/types.js';

/**
 * The tree tag a series' tags name (its instance's node: `cop=x,owt=y,...,process=p` ->
 * `cop.x_owt.y_...`), or undefined when they name none (a host's metric, a pushed series).
 */
export function nodeOfTags(tags: string): string | undefined {
  const pairs = parseFalconTags(tags);
  const parts: string[] = [];
  for (const level of LEVELS) if (pairs[level] !== undefined) parts.push(`${level}.${pairs[level]}`);
  if (parts.length === 0) return undefined;
  try {
    parseTag(parts.join('_'));
    return parts.join('_');
  } catch {
    return undefined; // tags that are not a path of the tree (a gap, a bad value): the strategy's node
  }
}

/** A canonical tag as the selector people type (`cop.x_owt.y` -> `cop=x,owt=y`). */
export function selectorOfTag(tag: string): string {
  return parseTag(tag)
    .pairs.map((p) => `${p.key}=${p.value}`)
    .join(',');
}

/** The first silence (active at the time it was listed) whose subtree holds `node`. */
export function silenceFor(node: string, silences: readonly SilenceRow[]): SilenceRow | undefined {
  return silences.find((s) => node !== '' && isUnder(node, s.selector));
}

/**
 * The row stored for an event. `strategyNode`: the node of the strategy (the alarm's node when the
 * series' tags name none); `silenced`: why it is not delivered, if it is not.
 */
export function alarmRow(e: JudgeEvent, strategyNode: string, silenced: string | null, storedAt: string): NewAlarmEvent {
  return {
    eventId: e.id,
    strategyId: e.strategy.id,
    seriesKey: seriesKey(e.endpoint, e.metric, e.tags),
    endpoint: e.endpoint,
    metric: e.metric,
    tags: e.tags,
    node: nodeOfTags(e.tags) ?? strategyNode,
    selector: strategyNode === '' ? '' : selectorOfTag(strategyNode),
    status: e.status,
    currentStep: e.currentStep,
    leftValue: e.leftValue,
    eventTime: e.eventTime,
    priority: e.priority,
    note: e.strategy.note ?? '',
    func: e.strategy.func,
    op: e.strategy.op,
    right: e.strategy.right,
    storedAt,
    silenced,
  };
}

/** Falcon's event again, from its stored row (the judge's "last event" of a strategy + series). */
export function judgeEventOf(r: AlarmEventRow): JudgeEvent {
  return {
    id: r.eventId,
    strategy: {
      id: r.strategyId,
      metric: r.metric,
      tags: {},
      func: r.func,
      op: r.op,
      right: r.right,
      maxStep: r.currentStep,
      priority: r.priority,
      note: r.note,
    },
    endpoint: r.endpoint,
    metric: r.metric,
    tags: r.tags,
    status: r.status,
    currentStep: r.currentStep,
    leftValue: r.leftValue,
    eventTime: r.eventTime,
    priority: r.priority,
  };
}

/** The wire view of a stored event. */
export function alarmView(r: AlarmEventRow): AlarmView {
  return {
    id: r.id,
    strategy: r.strategyId,
    endpoint: r.endpoint,
    metric: r.metric,
    tags: r.tags,
    status: r.status,
    currentStep: r.currentStep,
    leftValue: r.leftValue,
    eventTime: r.eventTime,
    priority: r.priority,
    note: r.note,
    acknowledged: r.acknowledgedBy === null ? null : { by: r.acknowledgedBy, at: r.acknowledgedAt ?? '' },
    func: r.func,
    op: r.op,
    right: r.right,
    silenced: r.silenced,
    storedAt: r.storedAt,
    selector: r.selector,
  };
}

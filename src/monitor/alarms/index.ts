/**
 * Alarms (issue 15): the judge loop under `LOOPS.judge`, nodata, the events stored, silences,
 * delivery to callbacks. A named second entry of monitor/ (monitor/README.md): the server's
 * wiring and routes import it.
 *
 * @example
 *   const loop = new JudgeLoop({ store, feed, book, makeJudge: () => new Judge(config), ingest, remain: 11, log });
 *   leadership.on('gained', (l, fence) => l === LOOPS.judge && loop.lead(fence));
 */
export { JudgeLoop, CURSOR_META_KEY, type JudgeLoopOptions, type JudgeLoopEvents } from './judge-loop.js';
export { judgeBatch, SeededSeries, SeriesCandidates, type GenerationalBook, type NumberingJudge } from './judge-batch.js';
export { Deliverer, callbackForm, owed, backoffMs, falconTime, postForm, type PostCallback, type FencedWrite } from './delivery.js';
export { NodataRunner, dueMocks } from './nodata.js';
export { alarmView, alarmRow, nodeOfTags, selectorOfTag, silenceFor } from './events.js';
export type { IngestPort, JudgePort, NodataRulePort, PointFeedPort, SeenSeries, StrategyPort } from './ports.js';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alarmMarkers,
  alignMany,
  eventSeconds,
  isRolledUp,
  lastRange,
  resolutionSeconds,
  selectorOfTags,
  shortNumber,
  tagString,
  toColumns,
  zoomTo,
  type AlarmLike,
  type HistoryRow,
} from './chart-data.js';

test('history rows become uPlot columns: times, then avg, min and max', () => {
  const rows: HistoryRow[] = [
    [120, 3, 1, 5],
    [0, 1, 0, 2],
    [60, 2, 1, 3],
  ];
  assert.deepEqual(toColumns(rows, 60), [
    [0, 60, 120],
    [1, 2, 3],
    [0, 1, 1],
    [2, 3, 5],
  ]);
  assert.deepEqual(toColumns([], 60), [[], [], [], []]);
});

test('a gap wider than 1.5 resolutions gets a row of nulls, so the line breaks there', () => {
  const cols = toColumns(
    [
      [0, 1, 1, 1],
      [60, 2, 2, 2],
      [300, 3, 3, 3],
      [400, 4, 4, 4],
    ],
    60,
  );
  assert.deepEqual(cols[0], [0, 60, 120, 300, 360, 400]);
  assert.deepEqual(cols[1], [1, 2, null, 3, null, 4]);
  assert.deepEqual(cols[3], [1, 2, null, 3, null, 4]);
  // 90 s apart at a 60 s resolution is not a gap (a late point), 91 s is.
  assert.deepEqual(
    toColumns(
      [
        [0, 1, 1, 1],
        [90, 2, 2, 2],
      ],
      60,
    )[0],
    [0, 90],
  );
  assert.deepEqual(
    toColumns(
      [
        [0, 1, 1, 1],
        [91, 2, 2, 2],
      ],
      60,
    )[0],
    [0, 60, 91],
  );
});

test('a repeated time keeps the last row; a non-finite value is a null', () => {
  const cols = toColumns(
    [
      [0, 1, 1, 1],
      [0, 7, 6, 8],
      [60, Number.NaN, 1, 1],
    ],
    60,
  );
  assert.deepEqual(cols, [
    [0, 60],
    [7, null],
    [6, 1],
    [8, 1],
  ]);
});

test('rolled up: a resolution coarser than the step, or rows whose min and max differ', () => {
  assert.equal(isRolledUp([[0, 1, 1, 1]], 60, 60), false);
  assert.equal(isRolledUp([[0, 1, 1, 1]], 300, 60), true);
  assert.equal(isRolledUp([[0, 1, 0, 2]], 60, 60), true);
});

test('several series share one time axis, each null where it has no point', () => {
  assert.deepEqual(
    alignMany(
      [
        [
          [0, 1, 1, 1],
          [60, 2, 2, 2],
        ],
        [
          [60, 5, 5, 5],
          [120, 6, 6, 6],
        ],
      ],
      60,
    ),
    [
      [0, 60, 120],
      [1, 2, null],
      [null, 5, 6],
    ],
  );
  assert.deepEqual(alignMany([], 60), [[]]);
});

test('time ranges: the last N up to now; a drag zooms to whole seconds, never narrower than the minimum', () => {
  assert.deepEqual(lastRange('1h', 7200.9), { from: 3600, to: 7200 });
  assert.deepEqual(lastRange('7d', 1_000_000), { from: 1_000_000 - 604_800, to: 1_000_000 });
  assert.deepEqual(zoomTo(200.7, 100.4, 10), { from: 100, to: 201 });
  assert.deepEqual(zoomTo(100, 102, 60), { from: 71, to: 131 });
  assert.equal(zoomTo(Number.NaN, 5, 10), undefined);
});

const alarm = (over: Partial<AlarmLike>): AlarmLike => ({
  id: 1,
  endpoint: 'h1',
  metric: 'cpu.idle',
  tags: '',
  status: 'PROBLEM',
  priority: 2,
  eventTime: 1000,
  note: 'cpu busy',
  ...over,
});

test('alarm markers: the series own alarms inside the range, oldest first, tags in either form', () => {
  const series = { endpoint: 'h1', metric: 'cpu.idle', tags: 'b=2,a=1' };
  const alarms = [
    alarm({ id: 3, eventTime: 1200, status: 'OK', tags: { a: '1', b: '2' } }),
    alarm({ id: 2, eventTime: 1000, tags: 'a=1,b=2' }),
    alarm({ id: 4, eventTime: 5000, tags: 'a=1,b=2' }),
    alarm({ id: 5, eventTime: 1100, tags: 'a=1' }),
    alarm({ id: 6, eventTime: 1100, tags: 'a=1,b=2', endpoint: 'h2' }),
    alarm({ id: 7, eventTime: 1100, tags: 'a=1,b=2', metric: 'cpu.iowait' }),
  ];
  assert.deepEqual(alarmMarkers(alarms, series, { from: 900, to: 3600 }), [
    { id: '2', ts: 1000, status: 'PROBLEM', priority: 2, label: 'PROBLEM P2 cpu busy' },
    { id: '3', ts: 1200, status: 'OK', priority: 2, label: 'OK P2 cpu busy' },
  ]);
});

test('an alarm time in seconds, milliseconds or ISO', () => {
  assert.equal(eventSeconds(1_700_000_000), 1_700_000_000);
  assert.equal(eventSeconds(1_700_000_000_000), 1_700_000_000);
  assert.equal(eventSeconds('1700000000'), 1_700_000_000);
  assert.equal(eventSeconds('2023-11-14T22:13:20.000Z'), 1_700_000_000);
  assert.ok(Number.isNaN(eventSeconds('never')));
});

test('tags: sorted k=v,k=v from a string or an object; a selector of the tree levels among them', () => {
  assert.equal(tagString('z=1, a=2'), 'a=2,z=1');
  assert.equal(tagString({ z: '1', a: '2' }), 'a=2,z=1');
  assert.equal(tagString(undefined), '');
  const levels = ['cop', 'owt', 'pdl', 'service', 'job', 'cluster'];
  assert.equal(selectorOfTags('process=web,owt=web,cop=acme', levels), 'cop=acme,owt=web');
  assert.equal(selectorOfTags('mount=/', levels), '');
});

test('numbers for the axis: short, without float noise', () => {
  assert.equal(shortNumber(1_234_567), '1.23M');
  assert.equal(shortNumber(12_345), '12.3k');
  assert.equal(shortNumber(1234.5), '1235');
  assert.equal(shortNumber(0.1 + 0.2), '0.3');
  assert.equal(shortNumber(null), '-');
});

test("a history's resolution in seconds: the server's, else the series' step", () => {
  assert.equal(resolutionSeconds(300, 60), 300);
  assert.equal(resolutionSeconds('raw', 60), 60);
  assert.equal(resolutionSeconds(0, 10), 10);
});

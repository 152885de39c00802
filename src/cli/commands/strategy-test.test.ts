import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const ROOT = new URL('../../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'noops-strategy-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the real command (the CLI's main, as bin/noops does) and returns its exit code and output. */
function noops(...args: string[]): { code: number; stdout: string; stderr: string } {
  const script = "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
}

const SEED = `# Falcon's own strategy row: common.servicerunning all(#3) == 0, tag-bound; and a host-bound one
config: {remain: 11, minInterval: 300}
strategies:
  - {id: 7, metric: common.servicerunning, tags: {cop: xiaomi, owt: miliao}, func: "all(#3)", op: "==", right: 0, maxStep: 3, priority: 2}
  - {id: host, endpoint: h1, metric: common.servicerunning, tags: {}, func: "all(#1)", op: "==", right: 0, maxStep: 1, priority: 0}
series:
  - endpoint: h1
    metric: common.servicerunning
    tags: {cop: xiaomi, owt: miliao, pdl: account}
    counterType: GAUGE
    pushes:
      - {ts: 60, value: 0, now: 61}
      - {ts: 120, value: 0, now: 121}
      - {ts: 180, value: 0, now: 181}
      - {ts: 240, value: 1, now: 241}
`;

test('--json prints the events in send order with the issue fields, host-bound before tag-bound', () => {
  const r = noops('strategy', 'test', file('seed.yaml', SEED), '--json');
  assert.equal(r.code, 0, r.stderr);
  const events = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.deepEqual(events, [
    { case: 0, series: 0, push: 0, strategy: 'host', status: 'PROBLEM', currentStep: 1, leftValue: 0, eventTime: 60, priority: 0 },
    { case: 0, series: 0, push: 2, strategy: 7, status: 'PROBLEM', currentStep: 1, leftValue: 0, eventTime: 180, priority: 2 },
    { case: 0, series: 0, push: 3, strategy: 'host', status: 'OK', currentStep: 1, leftValue: 1, eventTime: 240, priority: 0 },
    { case: 0, series: 0, push: 3, strategy: 7, status: 'OK', currentStep: 1, leftValue: 1, eventTime: 240, priority: 2 },
  ]);
});

test('the table, and expect: that holds exits 0', () => {
  const withExpect = `cases:
  - ${SEED.split('\n').slice(1).join('\n    ').trimEnd()}
    expect:
      - {push: 0, strategy: host, status: PROBLEM}
      - {push: 2, strategy: 7, status: PROBLEM, currentStep: 1, leftValue: 0.0000000001, eventTime: 180}
      - {strategy: host, status: OK}
      - {strategy: 7, status: OK}
`;
  const r = noops('strategy', 'test', file('expect-ok.yaml', withExpect));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /CASE\s+SERIES\s+PUSH\s+STRATEGY\s+STATUS\s+STEP\s+LEFT_VALUE\s+EVENT_TIME\s+PRIORITY/);
  assert.match(r.stdout, /0\s+0 h1\/common\.servicerunning\/cop=xiaomi,owt=miliao,pdl=account\s+2\s+7\s+PROBLEM\s+1\s+0\s+180\s+2/);
  assert.match(r.stdout, /every expect: holds/);
});

test('expect: that differs exits 1 and shows the difference', () => {
  const json = JSON.stringify({
    strategies: [{ id: 'a', endpoint: 'h1', metric: 'cpu.idle', tags: {}, func: 'all(#2)', op: '<', right: 5, maxStep: 3, priority: 1 }],
    series: [
      {
        endpoint: 'h1',
        metric: 'cpu.idle',
        tags: {},
        counterType: 'GAUGE',
        pushes: [
          { ts: 60, value: 1, now: 60 },
          { ts: 120, value: 1, now: 120 },
        ],
      },
    ],
    expect: [
      { strategy: 'a', status: 'PROBLEM', currentStep: 2 },
      { strategy: 'a', status: 'OK' },
    ],
  });
  const r = noops('strategy', 'test', file('expect-bad.json', json), '--json');
  assert.equal(r.code, 1);
  assert.equal((JSON.parse(r.stdout) as unknown[]).length, 1, 'the events are printed all the same');
  assert.match(r.stderr, /case 0, event 0: currentStep differ/);
  assert.match(r.stderr, /case 0, event 1: expected \{"strategy":"a","status":"OK"\}, none sent/);
});

test('an invalid file is refused with NOOPS_E_STRATEGY_TEST naming the field, an unknown func with its hint', () => {
  const r = noops('strategy', 'test', file('bad-func.yaml', SEED.replace('"all(#3)"', '"median(#3)"')));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^noops: strategies\[0\]\.func: func "median\(#3\)" names an unknown function/);
  assert.match(r.stderr, /NOOPS_E_STRATEGY_TEST.*lookup\(#2,3\)/);
  const typo = noops('strategy', 'test', file('typo.yaml', SEED.replace('endpoint: h1, metric', 'endpont: h1, metric')));
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /strategies\[1\]: unknown field "endpont"/);
  const broken = noops('strategy', 'test', file('broken.yaml', 'strategies: [\n'));
  assert.match(broken.stderr, /neither YAML nor JSON/);
  const missing = noops('strategy', 'test', join(dir, 'nope.yaml'));
  assert.match(missing.stderr, /cannot read/);
});

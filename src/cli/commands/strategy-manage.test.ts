/**
 * `noops strategy add|ls|rm|apply`, `noops maintain`, `noops nodata` on a real noops server, and
 * the apply file's checks.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../server/index.js';
import { program } from '../main.js';
import { parseStrategyFile } from './strategy-file.js';

const SEL = 'cop=acme,owt=web';
let dir: string;
let noops: Awaited<ReturnType<typeof startServer>>;
let token: string;

/** Runs the CLI and answers what it printed. */
async function cli(...args: string[]): Promise<string> {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  // Only text: the test runner's own reports to its parent pass through as bytes.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    out.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await program().parseAsync(['--server', noops.url, '--token', token, ...args], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return out.join('');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'noops-strategy-cli-'));
  noops = await startServer({ dataDir: join(dir, 'server'), listen: '127.0.0.1:0' });
  token = readFileSync(noops.adminTokenFile, 'utf8').trim();
});
after(async () => {
  await noops.close();
  rmSync(dir, { recursive: true, force: true });
});

test('strategy add, ls --json, rm: the flags of issue 15', async () => {
  const added = await cli(
    'strategy',
    'add',
    '-t',
    SEL,
    '--metric',
    'common.servicerunning',
    '--tags',
    'process=web',
    '--func',
    'all(#3)',
    '--op',
    '==',
    '--right',
    '0',
    '--max',
    '3',
    '--priority',
    '2',
    '--note',
    'down',
    '--run',
    '09:00-18:00',
  );
  assert.match(
    added,
    /^strategy added: #\d+ cop=acme,owt=web common.servicerunning\{process=web\} all\(#3\) == 0 max 3 P2 run 09:00-18:00 "down"\n$/,
  );
  await cli('strategy', 'add', '-t', 'cop=acme,owt=web,pdl=shop', '--metric', 'common.servicerunning', '--tags', 'process=web', '--off');
  const rows = JSON.parse(await cli('strategy', 'ls', '-t', SEL, '--json')) as {
    id: number;
    selector: string;
    off: boolean;
    maxStep: number;
  }[];
  assert.deepEqual(
    rows.map((r) => [r.selector, r.off, r.maxStep]),
    [
      [SEL, false, 3],
      ['cop=acme,owt=web,pdl=shop', true, 0],
    ],
  );
  assert.match(await cli('strategy', 'ls'), /common.servicerunning/);
  assert.match(await cli('strategy', 'rm', String(rows[1]!.id)), /^strategy removed: #\d+ .* off\n$/);
  await assert.rejects(cli('strategy', 'rm', String(rows[1]!.id)), { code: 'NOOPS_E_STRATEGY_UNKNOWN' });
  await assert.rejects(
    cli('strategy', 'add', '-t', SEL, '--metric', 'm', '--func', 'all(#3)', '--op', '==', '--right', 'x', '--max', '3', '--priority', '2'),
    {
      code: 'NOOPS_E_INPUT',
    },
  );
  await assert.rejects(
    cli('strategy', 'add', '-t', SEL, '--metric', 'm', '--func', 'all(#3)', '--op', '~', '--right', '0', '--max', '3', '--priority', '2'),
    {
      code: 'NOOPS_E_STRATEGY_INVALID',
    },
  );
});

test('strategy apply -f FILE: prints what it added, changed and removed; --dry-run changes nothing', async () => {
  const sel = 'cop=acme,owt=shop';
  await cli(
    'strategy',
    'add',
    '-t',
    sel,
    '--metric',
    'cpu.idle',
    '--func',
    'all(#3)',
    '--op',
    '<',
    '--right',
    '5',
    '--max',
    '3',
    '--priority',
    '2',
  );
  await cli(
    'strategy',
    'add',
    '-t',
    sel,
    '--metric',
    'load.1min',
    '--func',
    'all(#3)',
    '--op',
    '>',
    '--right',
    '8',
    '--max',
    '3',
    '--priority',
    '3',
  );
  const file = join(dir, 'strategies.yaml');
  writeFileSync(
    file,
    [
      `- selector: ${sel}`,
      '  metric: cpu.idle',
      '  func: all(#3)',
      '  op: "<"',
      '  right: 10',
      '  max: 3',
      '  priority: 2',
      `- selector: ${sel}`,
      '  metric: df.bytes.free.percent',
      '  tags: mount=/',
      '  func: all(#1)',
      '  op: "<"',
      '  right: 5',
      '  max: 3',
      '  priority: 1',
      '  run: 22:00-06:00',
      '',
    ].join('\n'),
  );
  const dry = await cli('strategy', 'apply', '-f', file, '--dry-run');
  assert.match(dry, /^added {3}#new cop=acme,owt=shop df.bytes.free.percent\{mount=\/\} all\(#1\) < 5 max 3 P1 run 22:00-06:00$/m);
  assert.match(
    dry,
    /^changed #\d+ cop=acme,owt=shop cpu.idle all\(#3\) < 5 max 3 P2\n {5}to #\d+ cop=acme,owt=shop cpu.idle all\(#3\) < 10 max 3 P2$/m,
  );
  assert.match(dry, /^removed #\d+ cop=acme,owt=shop load.1min/m);
  assert.match(dry, /^1 added, 1 changed, 1 removed \(dry run: nothing was changed\)$/m);
  const before = JSON.parse(await cli('strategy', 'ls', '-t', sel, '--json')) as { metric: string }[];
  assert.deepEqual(
    before.map((s) => s.metric),
    ['cpu.idle', 'load.1min'],
  );
  assert.match(await cli('strategy', 'apply', '-f', file), /^1 added, 1 changed, 1 removed$/m);
  const afterRows = JSON.parse(await cli('strategy', 'ls', '-t', sel, '--json')) as { metric: string; right: number }[];
  assert.deepEqual(
    afterRows.map((s) => [s.metric, s.right]),
    [
      ['cpu.idle', 10],
      ['df.bytes.free.percent', 5],
    ],
  );
  assert.equal(await cli('strategy', 'apply', '-f', file), '0 added, 0 changed, 0 removed\n');
});

test('maintain -t SELECTOR --for 2h, maintain ls, maintain rm ID', async () => {
  const put = await cli('maintain', '-t', SEL, '--for', '2h', '--reason', 'upgrade');
  const m = /^maintenance #(\d+): cop=acme,owt=web until (\S+) \(upgrade\)\n$/.exec(put);
  assert.ok(m, put);
  assert.ok(Math.abs(Date.parse(m[2]!) - Date.now() - 7_200_000) < 60_000);
  const rows = JSON.parse(await cli('maintain', 'ls', '--json')) as { id: number; selector: string; reason: string; by: string }[];
  assert.deepEqual(
    rows.map((r) => [r.id, r.selector, r.reason]),
    [[Number(m[1]), SEL, 'upgrade']],
  );
  assert.match(await cli('maintain', 'rm', m[1]!), /ended/);
  assert.deepEqual(JSON.parse(await cli('maintain', 'ls', '--json')), []);
  await assert.rejects(cli('maintain', '-t', SEL), { code: 'NOOPS_E_INPUT' });
  await assert.rejects(cli('maintain', '-t', SEL, '--for', 'a while'), { code: 'NOOPS_E_STRATEGY_INVALID' });
});

test('nodata add -t SELECTOR --metric M --after 120s --mock -1, ls, rm', async () => {
  const added = await cli('nodata', 'add', '-t', SEL, '--metric', 'agent.alive', '--after', '120s', '--mock', '-1');
  assert.match(added, /^nodata rule added: #(\d+) cop=acme,owt=web agent.alive after 120s mock -1\n$/);
  const rows = JSON.parse(await cli('nodata', 'ls', '--json')) as { id: number; after: number; mock: number }[];
  assert.deepEqual(
    rows.map((r) => [r.after, r.mock]),
    [[120, -1]],
  );
  assert.match(await cli('nodata', 'rm', String(rows[0]!.id)), /^nodata rule removed/);
  assert.deepEqual(JSON.parse(await cli('nodata', 'ls', '--json')), []);
});

test('the apply file: a YAML list; an unknown key or a wrong type is refused with its entry and line', () => {
  assert.deepEqual(parseStrategyFile('', 'f.yaml'), []);
  assert.deepEqual(parseStrategyFile('- {selector: cop=x, metric: m, off: true}\n', 'f.yaml'), [
    { selector: 'cop=x', metric: 'm', off: true },
  ]);
  assert.throws(() => parseStrategyFile('selector: cop=x\n', 'f.yaml'), {
    code: 'NOOPS_E_STRATEGY_INVALID',
    message: /^f.yaml:1: the file is a YAML list/,
  });
  assert.throws(() => parseStrategyFile('- selector: cop=x\n  metric: m\n  maxStep: 3\n', 'f.yaml'), {
    code: 'NOOPS_E_STRATEGY_INVALID',
    message: 'f.yaml:3: entry 1: unknown key "maxStep"',
  });
  assert.throws(() => parseStrategyFile('- selector: cop=x\n  metric: m\n- selector: cop=y\n  metric: m\n  right: zero\n', 'f.yaml'), {
    code: 'NOOPS_E_STRATEGY_INVALID',
    message: /^f.yaml:5: entry 2: right: /,
  });
});

/**
 * `noops strategy add|ls|rm|apply`: alert strategies bound to nodes of the tree (issue 15). A
 * strategy at a node watches every instance and host beneath it; a lower node overrides it for
 * the same metric and tags, or switches it off (`--off`). The `judge` part adds `strategy test`
 * to the same group.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { addStrategy, applyStrategies, listStrategies, removeStrategy, type StrategyView } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { json, table } from '../output.js';
import { apiOf } from './common.js';
import { commandGroup } from './groups.js';
import { parseStrategyFile } from './strategy-file.js';

/** A number flag, refused clearly when it is not one. */
export function numberFlag(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new NoopsError('NOOPS_E_INPUT', `${flag} "${raw}" is not a number`);
  return n;
}

/** An id argument. */
export function idArg(raw: string, what: string): number {
  if (!/^[1-9][0-9]*$/.test(raw)) throw new NoopsError('NOOPS_E_INPUT', `${what} "${raw}" is not an id; \`noops ${what} ls\` lists them`);
  return Number(raw);
}

/** One line of a strategy: where, what, the rule, the priority. */
function describe(s: StrategyView): string {
  const what = `${s.metric}${s.tags ? `{${s.tags}}` : ''}`;
  if (s.off) return `#${s.id || 'new'} ${s.selector} ${what} off`;
  return `#${s.id || 'new'} ${s.selector} ${what} ${s.func} ${s.op} ${s.right} max ${s.maxStep} P${s.priority}${s.run ? ` run ${s.run}` : ''}${s.note ? ` "${s.note}"` : ''}`;
}

interface AddFlags {
  tag: string;
  metric: string;
  tags?: string;
  func?: string;
  op?: string;
  right?: string;
  max?: string;
  priority?: string;
  note?: string;
  run?: string;
  off?: boolean;
  json?: boolean;
}

export function registerStrategies(p: Command): void {
  const s = commandGroup(p, 'strategy', "alert strategies bound to the tree (Open-Falcon's strategies)");
  s.command('add')
    .description('add a strategy at a node: it watches every instance and host beneath it (deployer on the node)')
    .requiredOption('-t, --tag <selector>', 'the node: a selector (cop=xiaomi,owt=miliao) or a tag')
    .requiredOption('--metric <metric>', 'the metric, e.g. common.servicerunning, cpu.idle')
    .option('--tags <k=v,...>', 'tags the series must also have, e.g. mount=/')
    .option('--func <func>', 'the judge function: all(#3), max(#3), min, sum, avg, diff, pdiff, stddev, lookup(#2,3), kdiff, kpdiff')
    .option('--op <op>', 'the operator: == = != < <= > >=')
    .option('--right <number>', 'the right value')
    .option('--max <n>', "most PROBLEM events in a row (Falcon's max step)")
    .option('--priority <0-6>', "Falcon's P0-P6: 0 is the highest")
    .option('--note <text>', 'the note sent with the alarm')
    .option('--run <HH:MM-HH:MM>', "the window it runs in, the server's local time (may cross midnight)")
    .option('--off', 'switch the inherited strategy of this metric and tags off at this node and below')
    .option('--json', 'print JSON')
    .action(async (o: AddFlags, cmd: Command) => {
      const view = await addStrategy(apiOf(cmd), {
        selector: o.tag,
        metric: o.metric,
        ...(o.tags !== undefined && { tags: o.tags }),
        ...(o.func !== undefined && { func: o.func }),
        ...(o.op !== undefined && { op: o.op }),
        ...(o.right !== undefined && { right: numberFlag(o.right, '--right') }),
        ...(o.max !== undefined && { maxStep: numberFlag(o.max, '--max') }),
        ...(o.priority !== undefined && { priority: numberFlag(o.priority, '--priority') }),
        ...(o.note !== undefined && { note: o.note }),
        ...(o.run !== undefined && { run: o.run }),
        ...(o.off && { off: true }),
      });
      if (o.json) return json([view]);
      process.stdout.write(`strategy added: ${describe(view)}\n`);
    });
  s.command('ls')
    .description('list strategies (those at or under -t)')
    .option('-t, --tag <selector>', 'only those at or under this node (a selector or a tag)')
    .option('--json', 'print JSON')
    .action(async (o: { tag?: string; json?: boolean }, cmd: Command) => {
      const rows = await listStrategies(apiOf(cmd), o.tag);
      if (o.json) return json(rows);
      table(
        rows.map((r) => ({ ...r, priority: `P${r.priority}`, run: r.run ?? '', off: r.off ? 'off' : '' })),
        ['id', 'selector', 'metric', 'tags', 'func', 'op', 'right', 'maxStep', 'priority', 'run', 'off', 'note'],
      );
    });
  s.command('rm <id>')
    .description('remove a strategy')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const view = await removeStrategy(apiOf(cmd), idArg(id, 'strategy'));
      if (o.json) return json([view]);
      process.stdout.write(`strategy removed: ${describe(view)}\n`);
    });
  s.command('apply')
    .description('make the strategies of each selector named in a YAML file exactly those of the file (so they live in git)')
    .requiredOption('-f, --file <file>', 'a YAML list of strategies (docs/monitoring.md)')
    .option('--dry-run', 'print what would change, change nothing')
    .option('--json', 'print JSON')
    .action(async (o: { file: string; dryRun?: boolean; json?: boolean }, cmd: Command) => {
      const strategies = parseStrategyFile(await readFile(o.file, 'utf8'), o.file);
      const out = await applyStrategies(apiOf(cmd), { strategies, dryRun: o.dryRun === true });
      if (o.json) return json([out]);
      const w = (line: string): boolean => process.stdout.write(`${line}\n`);
      for (const a of out.added) w(`added   ${describe(a)}`);
      for (const c of out.changed) w(`changed ${describe(c.from)}\n     to ${describe(c.to)}`);
      for (const r of out.removed) w(`removed ${describe(r)}`);
      w(
        `${out.added.length} added, ${out.changed.length} changed, ${out.removed.length} removed${out.dryRun ? ' (dry run: nothing was changed)' : ''}`,
      );
    });
}

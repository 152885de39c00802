/**
 * `noops maintain -t SELECTOR --for 2h [--reason TEXT]` (or `--host NAME`), `noops maintain ls`,
 * `noops maintain rm ID`: maintenance windows (issue 15). While one covers a series, its alarms
 * are stored silenced, not delivered.
 */
import type { Command } from 'commander';
import { addMaintenance, listMaintenance, removeMaintenance, type MaintenanceView } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { json, table } from '../output.js';
import { apiOf } from './common.js';
import { idArg } from './strategy-manage.js';

function where(w: MaintenanceView): string {
  return w.selector ?? `host ${w.host}`;
}

export function registerMaintain(p: Command): void {
  const m = p
    .command('maintain')
    .description('put a subtree or a host in maintenance for a time: its alarms are silenced (deployer on the node)')
    .option('-t, --tag <selector>', 'the node: a selector (cop=xiaomi,owt=miliao) or a tag; its instances and hosts')
    .option('--host <name>', 'one host instead of a node')
    .option('--for <duration>', 'how long: 90s, 15m, 2h, 1d')
    .option('--reason <text>', 'why (shown with the window)')
    .option('--json', 'print JSON')
    .action(async (o: { tag?: string; host?: string; for?: string; reason?: string; json?: boolean }, cmd: Command) => {
      if ((o.tag === undefined) === (o.host === undefined) || o.for === undefined) {
        throw new NoopsError('NOOPS_E_INPUT', 'maintain needs -t SELECTOR (or --host NAME) and --for DURATION', {
          hint: 'e.g. `noops maintain -t cop=xiaomi,owt=miliao --for 2h --reason upgrade`; `noops maintain ls` lists the windows',
        });
      }
      const w = await addMaintenance(apiOf(cmd), {
        ...(o.tag !== undefined && { selector: o.tag }),
        ...(o.host !== undefined && { host: o.host }),
        for: o.for,
        ...(o.reason !== undefined && { reason: o.reason }),
      });
      if (o.json) return json([w]);
      process.stdout.write(`maintenance #${w.id}: ${where(w)} until ${w.until}${w.reason ? ` (${w.reason})` : ''}\n`);
    });
  m.command('ls')
    .description('list the maintenance windows still open')
    .option('-t, --tag <selector>', 'only those at or under this node')
    .option('--all', 'ended ones too')
    .option('--json', 'print JSON')
    .action(async (_o: unknown, cmd: Command) => {
      // `maintain` itself takes -t and --json: commander gives them to it, so read both levels.
      const o = cmd.optsWithGlobals<{ tag?: string; all?: boolean; json?: boolean }>();
      const rows = await listMaintenance(apiOf(cmd), { selector: o.tag, all: o.all === true });
      if (o.json) return json(rows);
      table(
        rows.map((w) => ({ ...w, where: where(w) })),
        ['id', 'where', 'until', 'reason', 'by'],
      );
    });
  m.command('rm <id>')
    .description('end a maintenance window early')
    .option('--json', 'print JSON')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ json?: boolean }>();
      const w = await removeMaintenance(apiOf(cmd), idArg(id, 'maintain'));
      if (o.json) return json([w]);
      process.stdout.write(`maintenance #${w.id} of ${where(w)} ended\n`);
    });
}

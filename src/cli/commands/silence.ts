/**
 * `noops silence add -t SELECTOR --for 1h --reason TEXT`, `noops silence ls [--json]`,
 * `noops silence rm ID`: a subtree's alarms are stored, marked silenced and not delivered until
 * the silence ends (docs/monitoring.md).
 */
import type { Command } from 'commander';
import { addSilence, listSilences, removeSilence } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { json, table } from '../output.js';
import { apiOf, parseSeconds } from './common.js';
import { commandGroup } from './groups.js';

export function registerSilence(p: Command): void {
  const silence = commandGroup(p, 'silence', "silence a subtree's alarms for a time");
  silence
    .command('add')
    .description('silence the alarms of a node and everything beneath it (stored, marked, not delivered)')
    .requiredOption('-t, --tag <selector>', 'the node: a tag or a selector cop=x,owt=y')
    .requiredOption('--for <duration>', 'how long: 90s, 30m, 1h')
    .requiredOption('--reason <text>', 'why (shown with every alarm it silences)')
    .action(async (o: { tag: string; for: string; reason: string }, cmd: Command) => {
      const forSeconds = parseSeconds(o.for, '--for');
      if (forSeconds <= 0) throw new NoopsError('NOOPS_E_INPUT', '--for must be longer than 0');
      const s = await addSilence(apiOf(cmd), { selector: o.tag, forSeconds, reason: o.reason });
      process.stdout.write(`silence ${s.id}: ${s.selector} until ${s.until} (${s.reason})\n`);
    });
  silence
    .command('ls')
    .description('the silences in force')
    .option('--json', 'print JSON: [{id, selector, until, reason, by, createdAt}]')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const { silences } = await listSilences(apiOf(cmd));
      if (o.json) return json(silences);
      table(silences, ['id', 'selector', 'until', 'reason', 'by'], process.stdout);
    });
  silence
    .command('rm <id>')
    .description('end a silence now')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const n = Number(id);
      if (!Number.isSafeInteger(n) || n <= 0)
        throw new NoopsError('NOOPS_E_INPUT', `silence "${id}" is not an id (noops silence ls lists them)`);
      const s = await removeSilence(apiOf(cmd), n);
      process.stdout.write(`removed silence ${s.id} (${s.selector})\n`);
    });
}

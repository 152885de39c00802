/** `noops rebalance [--max-moves N] [--dry-run]`: move instances to free whole hosts or even out a label (docs/scheduler.md, "Rebalance"). */
import type { Command } from 'commander';
import { NoopsError } from '../../errors/index.js';
import { rebalance } from '../../api/index.js';
import { apiOf } from './common.js';

export function registerRebalance(p: Command): void {
  p.command('rebalance')
    .description(
      'move instances of scheduled clusters to free whole hosts or even out a spread label, within a budget of moves; ' +
        'each move starts the instance on its new host, waits for it healthy, then drains and stops the old one',
    )
    .option('--max-moves <n>', 'at most this many moves (default 10)')
    .option('--dry-run', 'show the moves without making them')
    .option('--json', 'print the answer as JSON')
    .action(async (o: { maxMoves?: string; dryRun?: boolean; json?: boolean }, cmd: Command) => {
      const maxMoves = o.maxMoves === undefined ? undefined : Number(o.maxMoves);
      if (o.maxMoves !== undefined && !/^\d+$/.test(o.maxMoves))
        throw new NoopsError('NOOPS_E_INPUT', `--max-moves "${o.maxMoves}" is not a whole number`);
      const view = await rebalance(apiOf(cmd), { maxMoves, dryRun: o.dryRun === true });
      if (o.json) return void process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      const lines = [view.dryRun ? `would make ${view.moves.length} move(s):` : `${view.moves.length} move(s) made:`];
      for (const m of view.moves) lines.push(`  ${m.tag}: ${m.from} -> ${m.to} (${m.reason})`);
      if (view.freedHosts.length > 0) lines.push(`hosts freed: ${view.freedHosts.join(', ')}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

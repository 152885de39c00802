/** `noops host adopt HOST`: make this server's answers acceptable again to a host's agent that refuses them (docs/trust.md). */
import type { Command } from 'commander';
import type { HostAdoptView } from '../../api/index.js';
import { json } from '../output.js';
import { apiOf } from './common.js';

/** Adds `adopt` under `noops host` (created here unless another module made it first). */
export function registerHostAdopt(p: Command): void {
  const host = p.commands.find((c) => c.name() === 'host') ?? p.command('host').description('one joined host');
  host
    .command('adopt')
    .description(
      "make this server's desired state acceptable to HOST's agent, which refuses it (another database, an older one, too many stops); admin only",
    )
    .argument('<host>', 'the host, as `noops hosts` lists it')
    .option('--yes', 'go ahead even though the agent will then stop or switch instances (it says which without --yes)')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { yes?: boolean; json?: boolean }, cmd: Command) => {
      const res = await apiOf(cmd).adoptHost(name, { yes: o.yes });
      if (o.json) return json([res]);
      process.stdout.write(describeAdoption(res));
    });
}

/** What an adoption did, in words, one line per change. */
export function describeAdoption(a: HostAdoptView): string {
  const lines = [
    `${a.host}: adopted (its agent refused because ${a.reason}); it applies this server's desired state at generation ${a.generation}`,
  ];
  for (const s of a.stops) lines.push(`  stops    ${s.tag} ${s.version}`);
  for (const s of a.switches) lines.push(`  switches ${s.tag} ${s.from} -> ${s.to}`);
  for (const s of a.starts) lines.push(`  starts   ${s.tag} ${s.version}`);
  for (const s of a.keeps) lines.push(`  keeps    ${s.tag} ${s.version}`);
  if (a.stops.length + a.switches.length + a.starts.length + a.keeps.length === 0) lines.push('  it runs nothing, and nothing is desired');
  return `${lines.join('\n')}\n`;
}

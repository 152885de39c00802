/**
 * `noops deps -t SELECTOR [--json]`: who depends on whom around a selector: what its services
 * use and who uses them, each edge marked declared (noops.yaml's `depends_on:`) and/or observed
 * (naming lookups). docs/naming.md.
 */
import type { Command } from 'commander';
import { readDeps, type ApiClient, type DepEdge, type DepsView } from '../../api/index.js';
import { ago, table } from '../output.js';
import { apiOf } from './common.js';

/** "declared", "observed" or "declared,observed". */
export function howKnown(e: DepEdge): string {
  return [e.declared && 'declared', e.observed && 'observed'].filter(Boolean).join(',');
}

export function registerDeps(p: Command): void {
  p.command('deps')
    .description(
      'who depends on whom: what the services under SELECTOR use, and who uses them (declared in noops.yaml, observed in naming lookups)',
    )
    .requiredOption('-t, --tag <selector>', 'a selector (key=value,...) or a tag')
    .option('--json', 'print {selector, uses, usedBy}')
    .action(async (o: { tag: string; json?: boolean }, cmd: Command) => {
      const deps = await readDeps(apiOf(cmd), o.tag);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(deps, null, 2)}\n`);
        return;
      }
      const rows = (edges: DepEdge[]) =>
        edges.map((e) => ({ from: e.from, to: e.to, known: howKnown(e), lastSeen: e.lastSeen && ago(e.lastSeen) }));
      process.stdout.write(`uses (${deps.selector}):\n`);
      table(rows(deps.uses), ['from', 'to', 'known', 'lastSeen']);
      process.stdout.write(`used by:\n`);
      table(rows(deps.usedBy), ['from', 'to', 'known', 'lastSeen']);
    });
}

/**
 * The line a deploy (rollback, undeploy) prints before it follows: the services that depend on
 * the cluster being changed, each marked declared or observed. Nothing when none are known; a
 * server that cannot say (an older one) is noted on stderr and the deploy goes on.
 *
 * @example dependentsLine(deps, TAG) // 'used by: cop.acme_..._job.pay (declared), cop.acme_..._job.cart (observed)'
 */
export function dependentsLine(deps: DepsView, tag: string): string | undefined {
  const self = deps.uses.map((e) => e.from);
  const by = new Map<string, DepEdge>();
  for (const e of deps.usedBy) if (!self.includes(e.from) && !tag.startsWith(`${e.from}_`)) by.set(e.from, mergeEdge(by.get(e.from), e));
  if (by.size === 0) return undefined;
  return `used by: ${[...by.values()].map((e) => `${e.from} (${howKnown(e)})`).join(', ')}`;
}

function mergeEdge(a: DepEdge | undefined, b: DepEdge): DepEdge {
  return a ? { ...a, declared: a.declared || b.declared, observed: a.observed || b.observed } : b;
}

/** Prints `dependentsLine` for the cluster a deployment changes (see there). */
export async function printDependents(api: ApiClient, tag: string, out: NodeJS.WritableStream): Promise<void> {
  let deps: DepsView;
  try {
    deps = await readDeps(api, tag);
  } catch (err) {
    process.stderr.write(`noops: could not read which services depend on ${tag}: ${(err as Error).message}\n`);
    return;
  }
  const line = dependentsLine(deps, tag);
  if (line) out.write(`${line}\n`);
}

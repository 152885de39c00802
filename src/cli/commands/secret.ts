/**
 * `noops secret set|ls|rm`: secrets a service gets in its environment (`env: { X: { secret: NAME } }`
 * in noops.yaml) or a build uses to clone (`noops build --credential NAME`). A value is read from
 * stdin or a file, never from the command line, where `ps` and shell history would show it.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { NoopsError } from '../../errors/index.js';
import { secretFromText } from '../../secrets/index.js';
import { json, table } from '../output.js';
import { apiOf } from './common.js';

/** Reads all of stdin; refuses a terminal, where a typed value would be echoed and could be cut short. */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new NoopsError('NOOPS_E_INPUT', 'secret set reads the value from stdin or --from-file, not from a terminal', {
      hint: 'e.g. `noops secret set NAME --scope TAG < file`, or `--from-file FILE`',
    });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function registerSecret(p: Command): void {
  const s = p.command('secret').description("secrets for services' environments and builds' repositories (values are never shown)");
  s.command('set <name>')
    .description('set (or replace) a secret at a node of the tree; the value comes from stdin or --from-file (admin on the scope)')
    .requiredOption('--scope <tag>', 'the node it serves, with every job under it, e.g. cop.acme_owt.web')
    .option('--from-file <file>', 'read the value from this file (one final line break is dropped, as from stdin)')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { scope: string; fromFile?: string; json?: boolean }, cmd: Command) => {
      const text = o.fromFile === undefined ? await readStdin() : await readFile(o.fromFile, 'utf8');
      const view = await apiOf(cmd).setSecret(name, { scope: o.scope, value: secretFromText(text) });
      if (o.json) return json([view]);
      process.stdout.write(`secret ${view.name} set at ${view.scope} (version ${view.version})\n`);
    });
  s.command('ls')
    .description('list secrets (names, scopes, versions; never values)')
    .option('--scope <tag>', 'only those in this subtree, and those above it that serve it')
    .option('--json', 'print JSON')
    .action(async (o: { scope?: string; json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).secrets(o.scope);
      if (o.json) return json(rows);
      table(rows, ['name', 'scope', 'version', 'updatedBy', 'updatedAt']);
    });
  s.command('rm <name>')
    .description('remove a secret (refused while a deployed release needs it and nothing else serves it)')
    .requiredOption('--scope <tag>', 'the node it was set at')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { scope: string; json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).removeSecret(name, o.scope);
      if (o.json) return json(rows);
      process.stdout.write(`secret ${name} removed from ${rows[0]?.scope ?? o.scope}\n`);
    });
}

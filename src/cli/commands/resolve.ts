/**
 * `noops resolve SELECTOR [--watch] [--json]`: the healthy endpoints under a selector (or a tag),
 * as naming answers them (docs/naming.md). `--watch` waits with blocking queries and prints each
 * new answer; with `--json`, one answer per line.
 */
import type { Command } from 'commander';
import { NAMING_DEFAULT_WAIT_MS, resolveNames, type NamingAnswer } from '../../api/index.js';
import { apiOf } from './common.js';
import { table } from '../output.js';

/** How long a failed watch waits before it asks again (the server may be restarting). */
const RETRY_MS = 1000;

function print(answer: NamingAnswer, asJson: boolean, watching: boolean): void {
  if (asJson) {
    process.stdout.write(`${JSON.stringify(answer, null, watching ? undefined : 2)}\n`);
    return;
  }
  if (watching) process.stdout.write(`index ${answer.index} at ${new Date().toISOString()}\n`);
  table(answer.endpoints, ['host', 'address', 'port', 'process', 'version', 'tag']);
}

export function registerResolve(p: Command): void {
  p.command('resolve')
    .description('the healthy endpoints under SELECTOR (cop=acme,service=shop) or a tag: host, address, port, process, version')
    .argument('<selector>', 'a selector (key=value,...) or a tag')
    .option('--watch', 'wait for changes (blocking queries) and print each new answer; Ctrl-C stops')
    .option('--json', 'print {index, endpoints} (with --watch: one answer per line)')
    .action(async (selector: string, o: { watch?: boolean; json?: boolean }, cmd: Command) => {
      const api = apiOf(cmd);
      let answer = await resolveNames(api, selector);
      print(answer, o.json === true, o.watch === true);
      if (!o.watch) return;
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      while (!stop.signal.aborted) {
        try {
          const next = await resolveNames(api, selector, { index: answer.index, waitMs: NAMING_DEFAULT_WAIT_MS, signal: stop.signal });
          if (next.index !== answer.index) print(next, o.json === true, true);
          answer = next;
        } catch (err) {
          if (stop.signal.aborted) break;
          process.stderr.write(`noops resolve: ${(err as Error).message}; asking again\n`);
          await new Promise((r) => setTimeout(r, RETRY_MS));
        }
      }
    });
}

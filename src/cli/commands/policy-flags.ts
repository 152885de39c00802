/**
 * The deploy policy as command-line flags, shared by `deploy`, `rollback`, `release` and
 * `cluster set`. The values go to the server as written; it checks them (one place, one message).
 */
import type { Command } from 'commander';

/** flag -> policy key (cluster.conf's) */
const FLAGS: [flag: string, key: string, help: string][] = [
  ['--batch <sizes>', 'batch', 'batch sizes: a host count, a percentage, or a list like "1, 10%, 50%" (the last repeats)'],
  ['--pause <duration>', 'pause', 'pause between batches (e.g. 30s, 5m)'],
  ['--healthy-for <duration>', 'healthy_for', 'how long every health check of a host must pass before it counts'],
  ['--timeout <duration>', 'timeout', 'how long a batch may take before its late hosts fail (default 5m)'],
  ['--max-failures <n|p%>', 'max_failures', 'hosts that may fail without failing the deploy (default 0)'],
  ['--on-failure <stop|rollback>', 'on_failure', 'what a failure does: roll the changed hosts back (default) or stop'],
  ['--canary-wait <duration>', 'canary_wait', 'a canary goes on by itself after this long (default: it waits for promote)'],
  ['--test-timeout <duration>', 'test_timeout', 'how long the deploy tests may run (default 5m)'],
];

/** camelCase option name commander gives each flag */
const optName = (flag: string): string =>
  flag
    .slice(2)
    .split(' ')[0]!
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Adds the policy flags to a command. */
export function withPolicyFlags(cmd: Command): Command {
  for (const [flag, , help] of FLAGS) cmd.option(flag, help);
  return cmd;
}

/** The policy keys given on the command line (undefined when none). */
export function policyOf(opts: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [flag, key] of FLAGS) {
    const v = opts[optName(flag)];
    if (v !== undefined) out[key] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

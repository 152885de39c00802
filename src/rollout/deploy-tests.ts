/**
 * Deploy tests: the release's `deploy_tests` commands, run by the server against the freshly
 * deployed instances. They run in a temp folder holding the release's own files (unpacked from
 * the artifact store), one after the other, until one fails or the time limit passes. They are
 * the repository's code: they run in the build sandbox (src/build/sandbox.ts), as a build does,
 * with a HOME and TMPDIR of their own:
 *
 *   deploy-test-XXXX/          root, 0711
 *     release/  home/  tmp/    the sandbox's uid, 0700
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hostAddressOf, type ProcessReport, processAddress, replicaOf } from '../api/index.js';
import type { DeployTestCommand } from './types.js';
import type { ReleaseManifest } from '../release/index.js';
import { BUILD_ENV_PASSTHROUGH } from '../build/build.js';
import { Sandbox } from '../build/index.js';
import { extractPackage } from '../artifacts/extract.js';

/** The end of a test command's output kept in the deployment: enough for an assertion's message. */
export const TEST_OUTPUT_KEEP = 8 * 1024;

export interface DeployTestJob {
  commands: readonly string[];
  /** the release package (tar.gz) in the artifact store */
  packagePath: string;
  /** a folder for the temp folder the tests run in */
  workDir: string;
  /** the environment of the commands (see `deployTestEnv`) */
  env: Record<string, string>;
  /** seconds for all the commands together */
  timeoutS: number;
  /** where the commands run; the server passes its own. Default: none (unit tests) */
  sandbox?: Sandbox;
}

/**
 * Runs the deploy tests; answers each command that ran with its exit code (null: killed at the
 * time limit, or could not start) and the end of its output. Stops at the first failure.
 * Never throws: a package that cannot be unpacked is a failed test.
 */
export async function runDeployTests(job: DeployTestJob): Promise<DeployTestCommand[]> {
  let box: ReturnType<Sandbox['open']>;
  try {
    box = (job.sandbox ?? Sandbox.none()).open();
  } catch (err) {
    return [{ command: '(start the sandbox)', code: null, output: (err as Error).message }];
  }
  const dir = await mkdtemp(join(job.workDir, 'deploy-test-'));
  try {
    await chmod(dir, 0o711);
    const release = join(dir, 'release');
    try {
      await mkdir(release);
      await extractPackage(job.packagePath, release);
      await box.own(release);
      await box.mkdir(join(dir, 'home'));
      await box.mkdir(join(dir, 'tmp'));
    } catch (err) {
      return [{ command: '(unpack the release)', code: null, output: (err as Error).message }];
    }
    const env = { ...job.env, HOME: join(dir, 'home'), TMPDIR: join(dir, 'tmp') };
    const deadline = Date.now() + job.timeoutS * 1000;
    const out: DeployTestCommand[] = [];
    for (const command of job.commands) {
      let output = '';
      const keep = (text: string): void => {
        output = (output + text).slice(-TEST_OUTPUT_KEEP);
      };
      try {
        const r = await box.run(['/bin/sh', '-c', command], dir, { cwd: release, env, deadline, onOutput: keep });
        out.push({
          command,
          code: r.timedOut ? null : r.code,
          output: r.timedOut ? `${output}\n(killed: the deploy tests ran past ${job.timeoutS}s)` : output,
        });
      } catch (err) {
        out.push({ command, code: null, output: `could not start /bin/sh: ${(err as Error).message}` });
      }
      if (out.at(-1)!.code !== 0) break;
    }
    return out;
  } finally {
    try {
      await box.stop(); // nothing of the tests outlives them
      await rm(dir, { recursive: true, force: true });
    } finally {
      await box.close(); // the uid is free for the next build only now that its files are gone
    }
  }
}

/** A host's address for tests to reach it: its `address` label, else where its agent connects from (api's `hostAddressOf`). */
export function hostAddress(labels: Record<string, string>, seenFrom: string | null): string | null {
  return hostAddressOf({ labels, address: seenFrom });
}

/**
 * The instances of one process, `address:port`, of the hosts given, from their reports: every
 * replica a host runs (`web`, `web@2`, ...: docs/scheduler.md, "Replicas"), host by host, each
 * host's in replica order.
 *
 * @example instanceList([{ address: '10.0.0.1', processes: [{ process: 'web', version: 'v2', port: 8000, ... }] }], 'web', 'v2')
 *   // ['10.0.0.1:8000']
 */
export function instanceList(
  hosts: readonly { address: string | null; processes: readonly ProcessReport[] }[],
  process: string,
  version: string,
): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const replicas = h.processes
      .filter((x) => x.version === version && (x.process === process || replicaOf(x.process).process === process))
      .sort((a, b) => replicaOf(a.process).replica - replicaOf(b.process).replica);
    for (const p of replicas) {
      const address = processAddress(p, { address: h.address }); // a container's own, else its host's
      if (address && p.port) out.push(`${address.includes(':') ? `[${address}]` : address}:${p.port}`);
    }
  }
  return out;
}

/** The process whose instances NOOPS_INSTANCES lists: `web` if it has a port, else the first with one. */
export function mainProcess(manifest: ReleaseManifest): string | null {
  const ported = manifest.processes.filter((p) => p.port !== null);
  return (ported.find((p) => p.name === 'web') ?? ported[0])?.name ?? null;
}

/** `NOOPS_INSTANCES_<NAME>`: the process name in upper case, `-` as `_`. */
export function instancesVar(process: string): string {
  return `NOOPS_INSTANCES_${process.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * The environment of deploy tests: a few of the server's variables (never its secrets), the
 * release's `env`, then what noops tells them.
 */
export function deployTestEnv(opts: {
  manifest: ReleaseManifest;
  tag: string;
  version: string;
  kind: string;
  deployment: number;
  batch: number;
  instances: Record<string, string[]>;
}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of BUILD_ENV_PASSTHROUGH) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  Object.assign(env, opts.manifest.env);
  const main = mainProcess(opts.manifest);
  Object.assign(env, {
    NOOPS_TAG: opts.tag,
    NOOPS_VERSION: opts.version,
    NOOPS_DEPLOY_KIND: opts.kind,
    NOOPS_DEPLOYMENT: String(opts.deployment),
    NOOPS_BATCH: String(opts.batch + 1),
    NOOPS_INSTANCES: main ? (opts.instances[main] ?? []).join(',') : '',
  });
  for (const [name, list] of Object.entries(opts.instances)) env[instancesVar(name)] = list.join(',');
  return env;
}

/**
 * Test kit: the real `victoria-metrics` binary (Debian's package; CI installs it) on a free port
 * with a temporary storage folder. Tests that need it skip, saying why, only when the binary is
 * absent.
 *
 * @example
 *   const vm = await startVictoria();
 *   // ... vm.url ...
 *   await vm.stop();
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../net/index.js';

/** Where Debian's package puts the binary; NOOPS_TEST_VICTORIA names another. */
export const VICTORIA_BINARY = process.env.NOOPS_TEST_VICTORIA ?? '/usr/bin/victoria-metrics';

/** The reason to skip VictoriaMetrics tests, or false when the binary is there. */
export function victoriaMissing(): string | false {
  return existsSync(VICTORIA_BINARY)
    ? false
    : `${VICTORIA_BINARY} is absent: install Debian's victoria-metrics package (.ci/run does) to run the VictoriaMetrics tests`;
}

/** A running VictoriaMetrics. */
export interface RunningVictoria {
  url: string;
  port: number;
  /** makes what was imported searchable now (`/internal/force_flush`), not within seconds */
  flush(): Promise<void>;
  /** stops it (SIGTERM, then SIGKILL); the storage folder stays until `dispose` */
  stop(): Promise<void>;
  /** starts it again on the same port and storage */
  restart(): Promise<void>;
  /** stops it and removes its storage folder */
  dispose(): Promise<void>;
}

/**
 * Starts VictoriaMetrics and waits (up to `timeoutMs`) until `/health` answers. Queries see points
 * at once (`-search.latencyOffset=0s`, no result cache), so tests wait on data, not on time.
 */
export async function startVictoria(opts: { timeoutMs?: number } = {}): Promise<RunningVictoria> {
  const dir = mkdtempSync(join(tmpdir(), 'noops-vm-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';
  const start = async () => {
    output = '';
    child = spawn(
      VICTORIA_BINARY,
      [
        `-httpListenAddr=127.0.0.1:${port}`,
        `-storageDataPath=${join(dir, 'data')}`,
        '-search.latencyOffset=0s',
        '-search.disableCache',
        '-retentionPeriod=100y',
        '-loggerLevel=ERROR',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
    child.stderr?.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    for (;;) {
      if (child.exitCode !== null) throw new Error(`victoria-metrics exited (${child.exitCode}): ${output}`);
      try {
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
        if (res.ok && (await res.text()).trim() === 'OK') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`victoria-metrics did not answer ${url}/health in time: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const killer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  };
  try {
    await start();
  } catch (err) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port,
    stop,
    restart: start,
    async flush() {
      const res = await fetch(`${url}/internal/force_flush`);
      await res.arrayBuffer();
    },
    async dispose() {
      await stop();
      // retried: a store that just exited may still have a file being unlinked under a directory (ENOTEMPTY, seen once)
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    },
  };
}

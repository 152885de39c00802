/**
 * The keepalived driver: the pool is a file of one LVS `virtual_server` block that keepalived's
 * configuration includes (`include FILE`). A ready member is a `real_server` of weight 1; a
 * draining one has weight 0 (LVS's graceful drain: no new connections, the open ones go on);
 * one in maint is left out. keepalived refuses a virtual server without real servers, so an
 * empty pool is a file without the block. The new file is written beside the old and checked
 * with `keepalived -t -f TMP`; only a file it accepts replaces the old one, then keepalived
 * (when its pid file names a live keepalived) is told to reload (SIGHUP). Connections are not
 * read (null).
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { NoopsError } from '../../errors/index.js';
import { daemonPid, readIfAny, reload, replaceWith, writeTemp } from './files.js';
import type { PoolOutcome } from './outcome.js';
import type { ValidMember, ValidPool } from './validate.js';

type KeepalivedPool = Extract<ValidPool, { driver: 'keepalived' }>;

/** How long `keepalived -t` may take. */
const CHECK_TIMEOUT_MS = 10_000;

/** The file of a pool: its virtual server, with each member not in maint. */
export function keepalivedConfig(vip: { address: string; port: number }, members: readonly ValidMember[], poolName: string): string {
  const head = `# Written by the noops agent for the pool ${poolName}; replaced on every change, do not edit.`;
  const served = members.filter((m) => m.state !== 'maint');
  if (!served.some((m) => m.state === 'ready'))
    return `${head}\n# No member takes traffic: the virtual server ${vip.address} ${vip.port} is not served.\n`;
  const lines = [
    head,
    `virtual_server ${vip.address} ${vip.port} {`,
    '    delay_loop 6',
    '    lb_algo wrr',
    '    lb_kind NAT',
    '    protocol TCP',
  ];
  for (const m of served) {
    lines.push(
      `    # ${m.id} ${m.state}`,
      `    real_server ${m.address} ${m.port} {`,
      `        weight ${m.state === 'ready' ? 1 : 0}`,
      '    }',
    );
  }
  lines.push('}', '');
  return lines.join('\n');
}

/** Runs `keepalived -t -f FILE`: resolves when keepalived accepts the file, throws with its words when not. */
export function checkKeepalived(file: string, binary = 'keepalived'): Promise<void> {
  return new Promise((resolve, reject) => {
    // an agent started by hand may lack the sbin folders in its PATH
    const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` };
    execFile(binary, ['-t', '-f', file], { env, timeout: CHECK_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (!err) return resolve();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        return reject(
          new NoopsError(
            'NOOPS_E_BALANCER_DRIVE',
            'keepalived is not installed on this host: `keepalived -t` checks every file before it is used',
          ),
        );
      }
      // its complaints first (a line number, a keyword), its notes on defaults after, each once
      const lines = [
        ...new Set(
          `${stderr}\n${stdout}`
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean),
        ),
      ];
      const complaint = (l: string) => /Line \d+|unknown|invalid|missing|don't match|no real servers|error/i.test(l);
      const said = [...lines.filter(complaint), ...lines.filter((l) => !complaint(l))].slice(0, 6).join(' / ');
      reject(
        new NoopsError(
          'NOOPS_E_BALANCER_DRIVE',
          `keepalived -t refused the new ${file} (exit ${String(code ?? err.signal)}): ${said || 'no reason given'}`,
        ),
      );
    });
  });
}

export class KeepalivedDriver {
  /** files replaced whose reload has not been sent yet (keepalived was not running) */
  private readonly unreloaded = new Set<string>();

  constructor(private readonly binary = 'keepalived') {}

  async apply(pool: KeepalivedPool): Promise<PoolOutcome> {
    const content = keepalivedConfig(pool.vip, pool.members, pool.name);
    const held = pool.members.filter((m) => m.state !== 'maint').map((m) => ({ id: m.id, state: m.state, connections: null }));
    if ((await readIfAny(pool.file)) !== content) {
      const tmp = await writeTemp(pool.file, content);
      try {
        await checkKeepalived(tmp, this.binary);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err; // the old file stays as it was
      }
      await replaceWith(tmp, pool.file);
      this.unreloaded.add(pool.file);
    }
    if (this.unreloaded.has(pool.file)) {
      const pid = await daemonPid(pool.pidFile, 'keepalived');
      // not running: it reads the file when it starts
      if (pid !== null) reload(pid, 'keepalived', pool.pidFile);
      this.unreloaded.delete(pool.file);
    }
    return { members: held };
  }

  /** The pool is no longer driven: its file is left as it is. */
  forget(file: string): void {
    this.unreloaded.delete(file);
  }
}

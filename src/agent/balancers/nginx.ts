/**
 * The nginx driver: the pool is an upstream file that nginx's configuration includes
 * (`include FILE;` inside `http { }`), written atomically, then a graceful reload (SIGHUP to
 * the master in the pid file). nginx open source has no drain: drain and maint are both `down`
 * (no new requests; the old workers finish theirs), so connections are unknown (null) and the
 * reload applied is the drain. An upstream needs one server at least: an empty pool is one
 * `server 127.0.0.1:1 down;`. The same content is neither written nor reloaded again.
 */
import { isIPv6 } from 'node:net';
import type { PoolOutcome } from './outcome.js';
import { daemonPid, readIfAny, reload, replaceWith, writeTemp } from './files.js';
import type { ValidMember, ValidPool } from './validate.js';

type NginxPool = Extract<ValidPool, { driver: 'nginx' }>;

/** The upstream file of a pool: one `server` line per member, `down` unless ready. */
export function nginxUpstream(upstream: string, members: readonly ValidMember[], poolName: string): string {
  const lines = members.map((m) => {
    const where = isIPv6(m.address) ? `[${m.address}]:${m.port}` : `${m.address}:${m.port}`;
    return `    server ${where}${m.state === 'ready' ? '' : ' down'}; # ${m.id} ${m.state}`;
  });
  if (lines.length === 0) lines.push('    server 127.0.0.1:1 down; # no members');
  return [
    `# Written by the noops agent for the pool ${poolName}; replaced on every change, do not edit.`,
    `upstream ${upstream} {`,
    ...lines,
    '}',
    '',
  ].join('\n');
}

export class NginxDriver {
  /** files written whose reload has not succeeded yet: reloaded at the next apply even if unchanged */
  private readonly unreloaded = new Set<string>();

  async apply(pool: NginxPool): Promise<PoolOutcome> {
    const content = nginxUpstream(pool.upstream, pool.members, pool.name);
    const members = pool.members.map((m) => ({ id: m.id, state: m.state, connections: null }));
    if ((await readIfAny(pool.file)) !== content) {
      await replaceWith(await writeTemp(pool.file, content), pool.file);
      this.unreloaded.add(pool.file);
    }
    if (this.unreloaded.has(pool.file)) {
      const pid = await daemonPid(pool.pidFile, 'nginx');
      if (pid === null) {
        return { members, error: `wrote ${pool.file} but nginx is not running (no live process in ${pool.pidFile}): not reloaded` };
      }
      reload(pid, 'nginx', pool.pidFile);
      this.unreloaded.delete(pool.file);
    }
    return { members };
  }

  /** The pool is no longer driven: its file is left as it is. */
  forget(file: string): void {
    this.unreloaded.delete(file);
  }
}

/**
 * The build sandbox, what is left of a build's processes: killing every process of its uid, and
 * deleting what it wrote to the shared temp folders (kind uid, without a mount namespace).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { SandboxId } from './sandbox.js';

/** `kill -KILL -1` as the uid: every process of that uid but the shell itself. */
export function killAll(id: SandboxId): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'kill -KILL -1 2>/dev/null; exit 0'], { uid: id.uid, gid: id.gid, env: {}, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
}

/** Shared temp folders a build without a mount namespace can write to. */
const SHARED_TEMP = ['/tmp', '/var/tmp', '/dev/shm'];

/** Deletes what the uid owns in the shared temp folders, as the uid (never as root: no link is followed with root's rights). */
export function removeLeftovers(id: SandboxId): Promise<void> {
  return new Promise((resolve, reject) => {
    const dirs = SHARED_TEMP.filter((d) => existsSync(d));
    const child = spawn('find', [...dirs, '-xdev', '-mindepth', '1', '-user', String(id.uid), '-delete'], {
      uid: id.uid,
      gid: id.gid,
      env: { PATH: '/usr/bin:/bin' },
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
}

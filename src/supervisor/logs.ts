/**
 * Log files of supervised processes: size-based rotation, the list of a process's files (god's
 * `log NAME N` menu), the last lines of a file, and following files live.
 *
 * Processes write their logs through file descriptors opened with O_APPEND (never pipes: they
 * outlive the agent). So rotation is copy-then-truncate, as logrotate's `copytruncate`: the
 * file is copied to `.1`, what was written meanwhile is copied after it, and the file is
 * truncated; the process's next write lands at the start of the emptied file. A line written
 * in the few microseconds between the last copy and the truncation is lost: the price of never
 * signalling or restarting a process to rotate its log.
 */
import {
  closeSync,
  copyFileSync,
  existsSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
  fstatSync,
} from 'node:fs';
import { basename } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';

/** 64 KiB: the unit of reading a log backwards or forwards; big enough for few syscalls. */
const CHUNK = 64 * 1024;
/** 200 ms: how often a followed file is looked at; live enough for a person watching. */
export const FOLLOW_POLL_MS = 200;
/** 1 MiB: the most read from one followed file per look, so a flood cannot fill memory. */
const FOLLOW_MAX_READ = 1024 * 1024;

/** `path.N`: the Nth rotated file (1 is the newest). */
export function rotatedPath(path: string, n: number): string {
  return `${path}.${n}`;
}

/**
 * Rotates `path` when it is `maxBytes` or bigger: `.1` .. `.keep` shift up (the oldest is
 * overwritten), the file is copied to `.1` and emptied. Returns true when it rotated.
 *
 * @example rotateIfNeeded('/var/log/app/web.out.log', { maxBytes: 10485760, keep: 5 })
 */
export function rotateIfNeeded(path: string, policy: { maxBytes: number; keep: number }): boolean {
  if (policy.maxBytes <= 0) return false;
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return false;
  }
  if (size < policy.maxBytes) return false;
  rotate(path, policy.keep);
  return true;
}

/** The last rotation failure said for each log file, so that one that keeps failing is said once. */
const rotationFailures = new Map<string, string>();

/**
 * rotateIfNeeded for the periodic checks, which must go on whatever one file does: a failure
 * (EISDIR, ENOSPC, a file replaced by something else) is said as a process warning (the agent's
 * stderr) once per file and cause, not swallowed, and the file is tried again at the next check.
 *
 * @example rotateOrWarn(paths.out, policy) // false, and one warning, while it cannot rotate
 */
export function rotateOrWarn(path: string, policy: { maxBytes: number; keep: number }): boolean {
  try {
    const rotated = rotateIfNeeded(path, policy);
    rotationFailures.delete(path);
    return rotated;
  } catch (err) {
    const why = (err as Error).message;
    if (rotationFailures.get(path) !== why) {
      rotationFailures.set(path, why);
      process.emitWarning(`supervisor: cannot rotate ${path}: ${why}; it grows until it can (tried again at each check)`);
    }
    return false;
  }
}

/** Rotates `path` now (see rotateIfNeeded). With keep 0 the file is only emptied. */
export function rotate(path: string, keep: number): void {
  const fd = openSync(path, 'r+');
  try {
    if (keep > 0) {
      for (let i = keep - 1; i >= 1; i--) {
        if (existsSync(rotatedPath(path, i))) renameSync(rotatedPath(path, i), rotatedPath(path, i + 1));
      }
      const dest = rotatedPath(path, 1);
      copyFileSync(path, dest);
      // What the process wrote while the copy ran: append it, again until a pass finds nothing
      // new, then empty the file at once. Copy-then-truncate loses what is written between the
      // last look and the truncate; repeating the look keeps that window to one short step even
      // when the machine is loaded (a loaded CI once lost 7 KB between one look and the truncate).
      const out = openSync(dest, 'a');
      try {
        let copied = statSync(dest).size;
        for (let size = fstatSync(fd).size; size > copied; size = fstatSync(fd).size) {
          copyRange(fd, out, copied, size);
          copied = size;
        }
      } finally {
        closeSync(out);
      }
    }
    ftruncateSync(fd, 0);
  } finally {
    closeSync(fd);
  }
}

function copyRange(from: number, to: number, start: number, end: number): void {
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let pos = start; pos < end; ) {
    const n = readSync(from, buf, 0, Math.min(CHUNK, end - pos), pos);
    if (n <= 0) break;
    writeSync(to, buf, 0, n);
    pos += n;
  }
}

/** One file of a process's logs. */
export interface LogFile {
  /** 1-based number in the menu */
  n: number;
  path: string;
  name: string;
  size: number;
  /** ms since the epoch */
  modifiedAt: number;
}

/**
 * The log files of one process: the current out and err files, then the rotated ones, newest
 * first. Numbered from 1 (god's `log NAME N` menu).
 */
export function listLogFiles(paths: { out: string; err: string }, keep: number): LogFile[] {
  const candidates = [paths.out, paths.err];
  for (let i = 1; i <= Math.max(keep, 0); i++) candidates.push(rotatedPath(paths.out, i), rotatedPath(paths.err, i));
  const out: LogFile[] = [];
  for (const path of candidates) {
    try {
      const st = statSync(path);
      out.push({ n: out.length + 1, path, name: basename(path), size: st.size, modifiedAt: st.mtimeMs });
    } catch {
      // not there (yet)
    }
  }
  return out;
}

/**
 * The last `lines` lines of a file (all of it when shorter), reading backwards in chunks so a
 * big log costs only its tail. '' when the file does not exist.
 */
export function tailLines(path: string, lines: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const parts: Buffer[] = [];
    let newlines = 0;
    let pos = size;
    while (pos > 0 && newlines <= lines) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const buf = Buffer.allocUnsafe(len);
      readSync(fd, buf, 0, len, pos);
      parts.unshift(buf);
      for (const b of buf) if (b === 10) newlines++;
    }
    let text = Buffer.concat(parts).toString('utf8');
    if (lines <= 0) return '';
    const all = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
    text = all.slice(-lines).join('\n');
    return text === '' ? '' : `${text}\n`;
  } finally {
    closeSync(fd);
  }
}

/** A piece of a followed file. */
export interface LogChunk {
  path: string;
  data: string;
}

/**
 * Follows files like `tail -F`: yields what is appended to each, from its end at the start;
 * a file that shrinks (truncated by rotation) or is replaced (another inode) is read again from
 * its start. Ends when `signal` aborts.
 */
export async function* followFiles(paths: readonly string[], signal: AbortSignal, pollMs = FOLLOW_POLL_MS): AsyncGenerator<LogChunk> {
  const offsets = new Map(paths.map((p) => [p, statOf(p).size]));
  const inodes = new Map(paths.map((p) => [p, statOf(p).ino]));
  // One decoder per file: a chunk may end inside a multi-byte character.
  const decoders = new Map(paths.map((p) => [p, new StringDecoder('utf8')]));
  while (!signal.aborted) {
    for (const path of paths) {
      const { size, ino } = statOf(path);
      let from = offsets.get(path) ?? 0;
      if (size < from || ino !== inodes.get(path)) from = 0;
      inodes.set(path, ino);
      if (size > from) {
        const data = readRange(path, from, Math.min(size, from + FOLLOW_MAX_READ));
        offsets.set(path, from + data.length);
        const text = decoders.get(path)!.write(data);
        if (text.length > 0) yield { path, data: text };
      } else {
        offsets.set(path, from);
      }
    }
    await sleep(pollMs, undefined, { signal }).catch(() => undefined);
  }
}

function statOf(path: string): { size: number; ino: number } {
  try {
    const st = statSync(path);
    return { size: st.size, ino: st.ino };
  } catch {
    return { size: 0, ino: 0 };
  }
}

function readRange(path: string, start: number, end: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const buf = Buffer.allocUnsafe(end - start);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n <= 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * Rotates the logs of a set of watches on a timer (unref'd: it never keeps a process alive).
 * A log that cannot be rotated now (a full disk, a file gone) is tried again at the next check.
 */
export class LogRotator {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly everyMs: number,
    private readonly logs: () => { paths: { out: string; err: string }; policy: { maxBytes: number; keep: number } }[],
  ) {}

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.check(), this.everyMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  check(): void {
    for (const { paths, policy } of this.logs()) {
      for (const path of [paths.out, paths.err]) rotateOrWarn(path, policy);
    }
  }
}

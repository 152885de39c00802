/**
 * A container's output into its two log files, with a mark: the engine's timestamp of the last
 * line written to them, kept per process in the instance's state folder
 * (`<mark>`: `{container, at}`). An agent that adopts a running container after a restart reads
 * the engine's log from that mark, so what the container wrote while no agent ran reaches the log
 * files once: lines at or before the mark are skipped, those after it are written.
 *
 * The engine's stream is read with `timestamps=true` and demultiplexed here (8-byte frame
 * headers: the stream, then the payload's length), each frame being one log message prefixed
 * with its RFC 3339 time in nanoseconds.
 */
import { createWriteStream, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** How often, at most, the mark is written to disk while output flows (and always at the end). */
export const MARK_SAVE_MS = 250;

/** What the mark file holds: the container, and the engine's time of its last line in the log files (null: none yet). */
export interface LogMark {
  container: string;
  at: string | null;
}

/** An RFC 3339 time with up to nanoseconds (`2026-12-03T16:00:00.123456789Z`) as nanoseconds since the epoch. */
export function timestampNs(ts: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) throw new Error(`not an RFC 3339 time: ${ts}`);
  const seconds = BigInt(Date.parse(`${m[1]}${m[3]}`) / 1000);
  return seconds * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** The mark of `container` in `file`, or undefined when there is none for it (another container's, or none). */
export function readMark(file: string, container: string): LogMark | undefined {
  try {
    const mark = JSON.parse(readFileSync(file, 'utf8')) as LogMark;
    return mark.container === container ? mark : undefined;
  } catch {
    return undefined;
  }
}

/** The container the mark file names now (undefined: no file, or not one of ours). */
function markedContainer(file: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as Partial<LogMark>).container;
  } catch {
    return undefined;
  }
}

/** Writes the mark whole (a new file renamed over the old). */
export function writeMark(file: string, mark: LogMark): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(mark));
  renameSync(`${file}.tmp`, file);
}

/**
 * Writes a container's multiplexed, timestamped output into `logs`, skipping what the mark says
 * is there already, and keeps the mark. `write` takes the engine's bytes; `close` ends the files
 * and saves the mark.
 */
export class MarkedLogWriter {
  readonly #out;
  readonly #err;
  #pending: Buffer = Buffer.alloc(0);
  /**
   * the mark's time in ns: frames at or before it are in the files already, until the first one
   * after it; from there every frame is written, in the stream's order (see {@link #frame})
   */
  readonly #skipUpTo: bigint;
  #skipping: boolean;
  #mark: LogMark;
  #saved: string | null;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    logs: { out: string; err: string },
    private readonly markFile: string,
    mark: LogMark,
  ) {
    for (const f of [logs.out, logs.err]) mkdirSync(dirname(f), { recursive: true });
    this.#out = createWriteStream(logs.out, { flags: 'a', mode: 0o640 });
    this.#err = createWriteStream(logs.err, { flags: 'a', mode: 0o640 });
    this.#mark = mark;
    this.#saved = mark.at;
    this.#skipUpTo = mark.at === null ? -1n : timestampNs(mark.at);
    this.#skipping = mark.at !== null;
    writeMark(markFile, mark);
  }

  /** Bytes of the engine's stream. */
  write(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (this.#pending.length >= 8) {
      const size = this.#pending.readUInt32BE(4);
      if (this.#pending.length < 8 + size) break;
      const kind = this.#pending[0];
      const payload = this.#pending.subarray(8, 8 + size);
      this.#pending = this.#pending.subarray(8 + size);
      this.#frame(kind === 2 ? this.#err : this.#out, payload);
    }
  }

  #frame(to: NodeJS.WritableStream, payload: Buffer): void {
    const space = payload.indexOf(0x20);
    const ts = space > 0 ? payload.subarray(0, space).toString('latin1') : '';
    let ns: bigint;
    try {
      ns = timestampNs(ts);
    } catch {
      to.write(payload); // no time on it: written as it is
      return;
    }
    // The engine's stream is in the order its log holds the lines, and that order is the truth:
    // its stdout and stderr copiers stamp a line each before they queue it, so a line may come
    // after one stamped later (2 of 10,000 alternating lines on engine 20.10). The times only
    // find where the mark is: once past it, every frame is written, an earlier-stamped one too.
    if (this.#skipping) {
      if (ns <= this.#skipUpTo) return; // in the files already
      this.#skipping = false;
    }
    to.write(payload.subarray(space + 1), () => {
      // the line is in the file: the mark may say so
      if (this.#mark.at === null || timestampNs(this.#mark.at) < ns) this.#mark = { ...this.#mark, at: ts };
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#save();
    }, MARK_SAVE_MS);
    this.#timer.unref();
  }

  /** Saves the mark now (what the files hold so far). */
  saveMark(): void {
    this.#save();
  }

  #save(): void {
    if (this.#mark.at === this.#saved) return;
    // The newest writer of a process owns its mark: a container that ended and was followed by a
    // new one (a restart) may still flush its last lines; its mark must not replace the new one's,
    // or an agent that restarts would not find the running container's mark.
    if (markedContainer(this.markFile) !== this.#mark.container) return;
    try {
      writeMark(this.markFile, this.#mark);
      this.#saved = this.#mark.at;
    } catch {
      // the state folder is gone (the instance removed): the next save tries again
    }
  }

  /** Ends the files; the mark is saved once what was written is on disk. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    clearTimeout(this.#timer);
    const ended = (s: NodeJS.WritableStream) => new Promise<void>((resolve) => s.end(resolve));
    return Promise.all([ended(this.#out), ended(this.#err)]).then(() => this.#save());
  }
}

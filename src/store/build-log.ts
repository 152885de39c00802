/**
 * A build's log as pieces: appended, never rewritten, and capped. The first
 * `BUILD_LOG_HEAD_CHARS` are kept (how the build began: the clone, the detected stack), and
 * the last `BUILD_LOG_TAIL_CHARS` (how it ended: the error); pieces in between are deleted as
 * the log grows. Each piece knows where it starts in the whole log, so a gap says how much was
 * cut and a reader that follows the log by position (`noops build`) never reads a line twice.
 *
 * Lengths are in characters (UTF-16 code units, as JavaScript counts them): a reader's
 * position is an index into the text it was given.
 */

/**
 * The beginning of a log that is always kept. 256 Ki characters hold the clone, the detected
 * stack and the install commands' first output of any build seen so far with room to spare.
 */
export const BUILD_LOG_HEAD_CHARS = 256 * 1024;

/**
 * The end of a log that is kept. 768 Ki characters (about 10,000 lines) hold a failing test
 * suite's report; with the head, a build's log is at most about 1 MiB in the database, where
 * three 40 MB logs once made a 160 MB database.
 */
export const BUILD_LOG_TAIL_CHARS = 768 * 1024;

/**
 * The largest piece written at once: one append of 40 MB becomes many pieces, so the middle
 * can be dropped piece by piece and the tail kept within a piece of its limit.
 */
export const BUILD_LOG_PIECE_CHARS = 64 * 1024;

/** A piece of a log, where it starts in the whole log. */
export interface LogPiece {
  pos: number;
  text: string;
}

/** Splits `text`, appended at `pos`, into pieces of at most `BUILD_LOG_PIECE_CHARS`. */
export function pieces(text: string, pos: number, size = BUILD_LOG_PIECE_CHARS): LogPiece[] {
  const out: LogPiece[] = [];
  for (let i = 0; i < text.length; i += size) out.push({ pos: pos + i, text: text.slice(i, i + size) });
  return out;
}

/**
 * The pieces to delete once the log ends at `end`: those after the head that end before the
 * tail begins. Answers the range of starting positions `[from, before)`, or undefined.
 *
 * @example cutRange(2_000_000) // { from: 262144, before: 1213568 } (delete pieces with pos in range and pos + chars <= before)
 */
export function cutRange(
  end: number,
  head = BUILD_LOG_HEAD_CHARS,
  tail = BUILD_LOG_TAIL_CHARS,
): { from: number; before: number } | undefined {
  const before = end - tail;
  return before > head ? { from: head, before } : undefined;
}

/** The line that stands where part of a log was cut. */
export function cutMarker(chars: number): string {
  return `\n[... ${chars} characters of this log were cut here: a build log keeps its first ${BUILD_LOG_HEAD_CHARS} and its last ${BUILD_LOG_TAIL_CHARS} ...]\n`;
}

/**
 * The log from position `from` on, as a reader sees it: the kept pieces in order, a marker
 * where pieces were cut, and the position to read from next (the end of the whole log).
 *
 * @example
 *   assemble([{ pos: 0, text: 'ab' }, { pos: 10, text: 'yz' }], 0) // { text: 'ab' + cutMarker(8) + 'yz', end: 12 }
 */
export function assemble(kept: readonly LogPiece[], from = 0): { text: string; end: number } {
  const sorted = [...kept].sort((a, b) => a.pos - b.pos);
  let at = from;
  let text = '';
  for (const p of sorted) {
    const pEnd = p.pos + p.text.length;
    if (pEnd <= at) continue;
    if (p.pos > at) {
      text += cutMarker(p.pos - at);
      at = p.pos;
    }
    text += p.text.slice(at - p.pos);
    at = pEnd;
  }
  return { text, end: Math.max(at, from) };
}

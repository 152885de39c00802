/** The supervisor's record of events: a bounded ring, read by sequence number. */
import type { EventKind, ProcessEvent } from './types.js';

/**
 * Keeps the last `kept` events. Every event gets the next sequence number, so a reader that
 * remembers the last one it saw (`since(seq)`) misses nothing that is still kept.
 *
 * @example
 *   const log = new EventRing(100);
 *   log.push('web', 'crash', 'exited with code 1');
 *   log.since(0) // [{ seq: 1, at: ..., id: 'web', kind: 'crash', message: 'exited with code 1' }]
 */
export class EventRing {
  readonly #events: ProcessEvent[] = [];
  #seq = 0;

  constructor(private readonly kept: number) {}

  push(id: string, kind: EventKind, message: string, at = Date.now()): ProcessEvent {
    const event: ProcessEvent = { seq: ++this.#seq, at, id, kind, message };
    this.#events.push(event);
    if (this.#events.length > this.kept) this.#events.splice(0, this.#events.length - this.kept);
    return event;
  }

  /** Events with a sequence number above `seq`, oldest first; of one process when `id` is given. */
  since(seq: number, id?: string): ProcessEvent[] {
    return this.#events.filter((e) => e.seq > seq && (id === undefined || e.id === id));
  }

  /** The sequence number of the newest event (0 before the first). */
  get last(): number {
    return this.#seq;
  }
}

/** The subscribers of one bus, by channel; both buses deliver through it. */
import type { Channel, Subscriber } from './index.js';

/** Subscribers by channel. A subscriber that throws is logged; the others are still told. */
export class Subscribers {
  private readonly byChannel = new Map<string, Set<Subscriber>>();

  constructor(private readonly warn: (line: string) => void = (line) => process.emitWarning(line)) {}

  /** Adds `subscriber` to `channel`; answers a function that removes it. */
  add(channel: Channel, subscriber: Subscriber): () => void {
    let set = this.byChannel.get(channel);
    if (!set) this.byChannel.set(channel, (set = new Set()));
    // the same object subscribed twice is told twice: wrap it so each subscription is its own
    const own: Subscriber = { change: (p) => subscriber.change(p), resync: () => subscriber.resync() };
    set.add(own);
    return () => {
      set.delete(own);
      if (set.size === 0 && this.byChannel.get(channel) === set) this.byChannel.delete(channel);
    };
  }

  /** Tells every subscriber of `channel` about `payload`. */
  deliver(channel: string, payload: string): void {
    for (const s of [...(this.byChannel.get(channel) ?? [])]) this.call(channel, () => s.change(payload));
  }

  /** Tells every subscriber of every channel that changes may have been missed. */
  resyncAll(): void {
    for (const [channel, set] of this.byChannel) for (const s of [...set]) this.call(channel, () => s.resync());
  }

  clear(): void {
    this.byChannel.clear();
  }

  private call(channel: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.warn(`bus: a subscriber of "${channel}" failed: ${(err as Error).stack ?? String(err)}`);
    }
  }
}

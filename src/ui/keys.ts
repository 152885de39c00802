/**
 * Keyboard shortcuts, vim and GitHub style: single keys (`/`, `?`) and two-key sequences
 * (`g h`). Pure: the page feeds it keys and the time; it answers whether a binding ran.
 */

/** A second key must follow the first within this time, as in GitHub and Gmail: long enough to
 * type comfortably, short enough that a stray `g` is forgotten. */
export const SEQUENCE_MS = 1500;

export interface Binding {
  /** one key, or two separated by a space: '/', 'g h' */
  keys: string;
  /** what it does, for the help overlay */
  help: string;
  run(): void;
}

export class KeyMap {
  private pending: { key: string; at: number } | null = null;

  constructor(
    readonly bindings: readonly Binding[],
    private readonly sequenceMs = SEQUENCE_MS,
  ) {}

  /**
   * Takes one key press (KeyboardEvent.key); runs the binding it completes. Answers true when a
   * binding ran or a sequence was started (the page then prevents the key's default).
   *
   * @example
   *   const keys = new KeyMap([{ keys: 'g h', help: 'hosts', run: () => go('#/hosts') }]);
   *   keys.press('g', 0); keys.press('h', 200); // runs it
   */
  press(key: string, now: number): boolean {
    const prev = this.pending && now - this.pending.at <= this.sequenceMs ? this.pending.key : null;
    this.pending = null;
    if (prev !== null) {
      const seq = this.bindings.find((b) => b.keys === `${prev} ${key}`);
      if (seq) {
        seq.run();
        return true;
      }
    }
    const single = this.bindings.find((b) => b.keys === key);
    if (single) {
      single.run();
      return true;
    }
    if (this.bindings.some((b) => b.keys.startsWith(`${key} `))) {
      this.pending = { key, at: now };
      return true;
    }
    return false;
  }
}

/** True when a key press belongs to what the user is typing, not to the shortcuts. */
export function isTyping(target: EventTarget | null, mods: { ctrlKey: boolean; metaKey: boolean; altKey: boolean }): boolean {
  if (mods.ctrlKey || mods.metaKey || mods.altKey) return true;
  const el = target as { tagName?: string; isContentEditable?: boolean } | null;
  if (!el || typeof el.tagName !== 'string') return false;
  return el.isContentEditable === true || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName);
}

/**
 * Several servers of one database (issue 14): the list a client is given (`--server URL1,URL2`,
 * NOOPS_SERVER), checked at the edge, and which of them it talks to now. Pure: no I/O, no clock.
 *
 * A client starts on a server picked at random (so a fleet spreads over the list), keeps it while
 * it answers, and moves to the next one when it fails (a connection error, a 5xx, a timeout).
 * Every server of one database shares its identity and signing key, so moving changes nothing an
 * agent trusts (docs/trust.md#several-servers).
 *
 * @example
 *   const list = new ServerList(parseServers('http://a:7700,http://b:7700', '--server'));
 *   list.current();              // 'http://a:7700' or 'http://b:7700', at random
 *   list.failed(list.current()); // the other one
 */
import { NoopsError } from '../errors/index.js';

/** How a server list is written: URLs joined by commas. */
export const SERVER_LIST_HINT =
  'give the servers as http(s)://HOST:PORT joined by commas, each once, e.g. --server https://10.0.0.5:7700,https://10.0.0.6:7700 (or NOOPS_SERVER)';

/**
 * Parses a comma-separated list of server URLs: each http:// or https:// with a host, none twice,
 * at least one. Trailing slashes are dropped. `source` names where the text came from, for the error.
 *
 * @example parseServers('http://a:7700/, http://b:7700', '--server') // ['http://a:7700', 'http://b:7700']
 */
export function parseServers(text: string | readonly string[], source: string): string[] {
  const parts = (typeof text === 'string' ? text.split(',') : text).map((s) => s.trim());
  const out: string[] = [];
  for (const part of parts) {
    if (part === '') throw new NoopsError('NOOPS_E_INPUT', `${source}: an empty server in "${String(text)}"`, { hint: SERVER_LIST_HINT });
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      throw new NoopsError('NOOPS_E_INPUT', `${source}: "${part}" is not a URL`, { hint: SERVER_LIST_HINT });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new NoopsError('NOOPS_E_INPUT', `${source}: "${part}" is not http:// or https://`, { hint: SERVER_LIST_HINT });
    if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')
      throw new NoopsError('NOOPS_E_INPUT', `${source}: "${part}" has a query, fragment or user; give only the server's address`, {
        hint: SERVER_LIST_HINT,
      });
    const normal = part.replace(/\/+$/, '');
    if (out.some((u) => sameServer(u, normal)))
      throw new NoopsError('NOOPS_E_INPUT', `${source}: "${part}" is given twice`, { hint: SERVER_LIST_HINT });
    out.push(normal);
  }
  if (out.length === 0) throw new NoopsError('NOOPS_E_INPUT', `${source}: no server given`, { hint: SERVER_LIST_HINT });
  return out;
}

function sameServer(a: string, b: string): boolean {
  return new URL(a).href === new URL(b).href;
}

/** Told when the client moves from one server to another. */
export type ServerChange = (from: string, to: string) => void;

/**
 * The servers a client may use, and the one it uses now. Shared by every ApiClient of one program
 * (the agent's join client and its token client), so a failure seen by one moves them all.
 */
export class ServerList {
  readonly urls: readonly string[];
  #index: number;
  /** per server, aborted when the client leaves it: its requests still in flight (a long poll) end at once */
  #left = new Map<string, AbortController>();
  #listeners: ServerChange[] = [];

  /** `random` in [0, 1) picks the first server (tests pass a fixed one). */
  constructor(urls: readonly string[], random: () => number = Math.random) {
    if (urls.length === 0) throw new NoopsError('NOOPS_E_INPUT', 'no server given', { hint: SERVER_LIST_HINT });
    this.urls = [...urls];
    this.#index = Math.min(urls.length - 1, Math.floor(random() * urls.length));
  }

  /** The server to talk to now. */
  current(): string {
    return this.urls[this.#index]!;
  }

  /** True when there is another server to move to. */
  get several(): boolean {
    return this.urls.length > 1;
  }

  /**
   * `url` failed (no connection, a 5xx, no answer in time). When it is the current server, the
   * client moves to the next one in the list (round the end), and requests still in flight to
   * `url` are aborted. A failure of a server already left changes nothing (two requests that
   * failed together move once). Answers the server to use now.
   */
  failed(url: string): string {
    if (url !== this.current() || !this.several) return this.current();
    this.#index = (this.#index + 1) % this.urls.length;
    const left = this.#left.get(url);
    this.#left.delete(url);
    left?.abort(new NoopsError('NOOPS_E_SERVER_UNREACHABLE', `left ${url}: it stopped answering`));
    const to = this.current();
    for (const l of this.#listeners) l(url, to);
    return to;
  }

  /** A signal aborted when the client leaves `url` (see failed). */
  leftSignal(url: string): AbortSignal {
    let c = this.#left.get(url);
    if (c === undefined) {
      c = new AbortController();
      this.#left.set(url, c);
    }
    return c.signal;
  }

  /** Calls `listener` on every move. */
  onChange(listener: ServerChange): void {
    this.#listeners.push(listener);
  }
}

/**
 * Server-sent events (the `text/event-stream` format of the HTML standard), the small part of it
 * noops uses: named events whose data is one line of JSON, and comment lines as keep-alives.
 * Node 20 has no EventSource, so the client side reads the stream with fetch.
 */

/** One event as it goes on the wire: `event: NAME`, `data: JSON`, a blank line. */
export function encodeEvent(event: string, data: unknown): string {
  // JSON.stringify escapes line breaks inside strings, so the data is one line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A keep-alive: a comment line, ignored by readers, that keeps proxies from closing the stream. */
export const KEEP_ALIVE = ': keep-alive\n\n';

/** One event as read: its name (`message` when it has none) and its data, parsed. */
export interface ReadEvent {
  event: string;
  data: unknown;
}

/**
 * The events of a stream as they arrive. Lines end in LF, CR LF or CR; `data` lines of one
 * event are joined with LF; comments and unknown fields are skipped; an event without data is
 * dropped (as the standard says).
 *
 * @example
 *   for await (const e of readEvents(res.body!)) console.log(e.event, e.data);
 */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ReadEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let m: RegExpExecArray | null;
      const line = /\r\n|\r|\n/g;
      let start = 0;
      while ((m = line.exec(buffer)) !== null) {
        // a CR at the very end may be the first half of CR LF: wait for more
        if (m[0] === '\r' && m.index === buffer.length - 1 && !done) break;
        const text = buffer.slice(start, m.index);
        start = m.index + m[0].length;
        if (text === '') {
          if (data.length > 0) yield { event: event || 'message', data: JSON.parse(data.join('\n')) as unknown };
          event = '';
          data = [];
        } else if (!text.startsWith(':')) {
          const colon = text.indexOf(':');
          const field = colon < 0 ? text : text.slice(0, colon);
          const value = colon < 0 ? '' : text.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
      }
      buffer = buffer.slice(start);
      if (done) return;
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}

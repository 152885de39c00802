/**
 * A listening address as the flags give it (`--listen`, `--dns`, `--push-listen`): `HOST:PORT`,
 * `[IPv6]:PORT`, or `:PORT` (the caller's default host). Pure; each caller says what it refuses
 * with its own flag's name.
 */

/**
 * `HOST:PORT`, `[::1]:PORT` or `:PORT` (the host `defaultHost`) into its parts; undefined when it
 * is none of those or the port is above 65535. Spaces around it are ignored, none inside.
 *
 * @example
 *   parseListen('127.0.0.1:7700', '127.0.0.1') // { host: '127.0.0.1', port: 7700 }
 *   parseListen(':1988', '0.0.0.0')           // { host: '0.0.0.0', port: 1988 }
 */
export function parseListen(addr: string, defaultHost: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]\s]+)\]|([^:\s]*)):(\d{1,5})$/.exec(addr.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65_535) return undefined;
  return { host: m[1] ?? (m[2] || defaultHost), port };
}

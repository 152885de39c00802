/**
 * Pure: the checks of a pool the server sends, before anything touches the balancer. The agent
 * (root) writes files, signals daemons and drives sockets at the paths a pool names, so it takes
 * nothing on trust: absolute paths, addresses that parse as IPs, integer ports 1-65535, names of
 * `[A-Za-z0-9_.:-]`. A pool that fails a check is reported `ok: false` with the reason and is not
 * applied; the others are.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { isAbsolute, normalize } from 'node:path';
import { BALANCER_DRIVERS, MEMBER_STATES, type DesiredBalancer, type DesiredMember } from '../../api/index.js';

/** A member id (haproxy's server name), a haproxy backend, an nginx upstream. */
export const BALANCER_ID_RE = /^[A-Za-z0-9_.:-]{1,100}$/;
/** A pool's name as the server gives it (lenient: the server checks BALANCER_NAME_RE). */
const POOL_NAME_RE = /^[A-Za-z0-9_.-]{1,100}$/;

/** The nginx and keepalived daemons' default pid files. */
export const DEFAULT_NGINX_PID_FILE = '/run/nginx.pid';
export const DEFAULT_KEEPALIVED_PID_FILE = '/run/keepalived.pid';

/** A member after the checks. */
export interface ValidMember {
  id: string;
  address: string;
  port: number;
  state: DesiredMember['state'];
}

/** A pool after the checks, with its driver's settings filled in. */
export type ValidPool =
  | { name: string; driver: 'haproxy'; socket: string; backend: string; members: ValidMember[] }
  | {
      name: string;
      driver: 'nginx';
      file: string;
      upstream: string;
      pidFile: string;
      /** the control API of noops' Lua blocks (absent: file and reload) */
      api?: { address: string; port: number };
      members: ValidMember[];
    }
  | { name: string; driver: 'keepalived'; file: string; vip: { address: string; port: number }; pidFile: string; members: ValidMember[] };

/** Either the checked pool, or why it is refused. */
export type Checked = { ok: true; pool: ValidPool } | { ok: false; name: string; reason: string };

/** True for an integer port 1-65535. */
export function isPort(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** An absolute path without `..`, NUL or newlines (it goes into files and commands). */
function pathOk(path: unknown): path is string {
  return (
    typeof path === 'string' &&
    path.length <= 4096 &&
    isAbsolute(path) &&
    normalize(path) === path &&
    !path.endsWith('/') &&
    !/[\0\n\r]/.test(path)
  );
}

/** True for a loopback address (127.0.0.0/8, ::1, ::ffff:127.x) or one of this host's interfaces'. */
export function ownAddress(address: string, interfaces = networkInterfaces()): boolean {
  const plain = address.toLowerCase().replace(/^::ffff:(?=\d+\.)/, '');
  if (/^127\./.test(plain) || plain === '::1') return true;
  return Object.values(interfaces).some((list) => (list ?? []).some((i) => i.address.toLowerCase() === plain));
}

/** `ADDR:PORT` or `[V6]:PORT` parsed; undefined when it is not one. */
export function parseVip(vip: string): { address: string; port: number } | undefined {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(vip) ?? /^([0-9.]+):(\d{1,5})$/.exec(vip);
  if (!m) return undefined;
  const address = m[1]!;
  const port = Number(m[2]);
  if (isIP(address) === 0 || !isPort(port)) return undefined;
  return { address, port };
}

function checkMember(m: DesiredMember, i: number): ValidMember | string {
  if (typeof m !== 'object' || m === null) return `member ${i} is not an object`;
  if (typeof m.id !== 'string' || !BALANCER_ID_RE.test(m.id))
    return `member ${i}'s id ${JSON.stringify(m.id)} is not [A-Za-z0-9_.:-]{1,100}`;
  if (typeof m.address !== 'string' || isIP(m.address) === 0)
    return `member ${m.id}'s address ${JSON.stringify(m.address)} is not an IP address`;
  if (!isPort(m.port)) return `member ${m.id}'s port ${JSON.stringify(m.port)} is not an integer 1-65535`;
  if (!(MEMBER_STATES as readonly string[]).includes(m.state))
    return `member ${m.id}'s state ${JSON.stringify(m.state)} is not ready, drain or maint`;
  return { id: m.id, address: m.address, port: m.port, state: m.state };
}

/** Checks one pool as the server sent it. */
export function checkPool(p: DesiredBalancer): Checked {
  const name = typeof p?.name === 'string' ? p.name : String(p?.name);
  const refuse = (reason: string): Checked => ({ ok: false, name, reason: `pool ${JSON.stringify(name)}: ${reason}` });
  if (!POOL_NAME_RE.test(name)) return refuse('the name is not [A-Za-z0-9_.-]{1,100}');
  if (!(BALANCER_DRIVERS as readonly string[]).includes(p.driver)) return refuse(`unknown driver ${JSON.stringify(p.driver)}`);
  if (!Array.isArray(p.members)) return refuse('members is not a list');
  const members: ValidMember[] = [];
  const ids = new Set<string>();
  for (const [i, m] of p.members.entries()) {
    const v = checkMember(m, i);
    if (typeof v === 'string') return refuse(v);
    if (ids.has(v.id)) return refuse(`member id ${v.id} is given twice`);
    ids.add(v.id);
    members.push(v);
  }
  const path = (value: unknown): string | undefined => (pathOk(value) ? value : undefined);
  if (p.driver === 'haproxy') {
    const socket = path(p.socket);
    if (socket === undefined) return refuse(`socket ${JSON.stringify(p.socket)} is not an absolute path`);
    if (typeof p.backend !== 'string' || !BALANCER_ID_RE.test(p.backend))
      return refuse(`backend ${JSON.stringify(p.backend)} is not [A-Za-z0-9_.:-]{1,100}`);
    return { ok: true, pool: { name, driver: 'haproxy', socket, backend: p.backend, members } };
  }
  const file = path(p.file);
  if (file === undefined) return refuse(`file ${JSON.stringify(p.file)} is not an absolute path`);
  const pidFile = p.pidFile === undefined ? undefined : path(p.pidFile);
  if (p.pidFile !== undefined && pidFile === undefined) return refuse(`pidFile ${JSON.stringify(p.pidFile)} is not an absolute path`);
  if (p.driver === 'nginx') {
    const upstream = p.backend ?? name;
    if (typeof upstream !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(upstream))
      return refuse(`upstream ${JSON.stringify(upstream)} is not [A-Za-z0-9_.-]{1,100}`);
    let api: { address: string; port: number } | undefined;
    if (p.api !== undefined) {
      api = typeof p.api === 'string' ? parseVip(p.api) : undefined;
      if (api === undefined) return refuse(`api ${JSON.stringify(p.api)} is not ADDR:PORT (an IP address; IPv6 in brackets)`);
      if (!ownAddress(api.address))
        return refuse(
          `api ${JSON.stringify(p.api)} is neither a loopback address nor one of this host's: the agent drives only its own nginx`,
        );
    }
    return {
      ok: true,
      pool: { name, driver: 'nginx', file, upstream, pidFile: pidFile ?? DEFAULT_NGINX_PID_FILE, ...(api && { api }), members },
    };
  }
  const vip = typeof p.vip === 'string' ? parseVip(p.vip) : undefined;
  if (vip === undefined) return refuse(`vip ${JSON.stringify(p.vip)} is not ADDR:PORT (an IP address; IPv6 in brackets)`);
  const family = isIP(vip.address);
  const other = members.find((m) => m.state !== 'maint' && isIP(m.address) !== family);
  if (other) return refuse(`member ${other.id}'s address ${other.address} is not of the vip's family (LVS cannot mix them)`);
  return { ok: true, pool: { name, driver: 'keepalived', file, vip, pidFile: pidFile ?? DEFAULT_KEEPALIVED_PID_FILE, members } };
}

/** What two pools must not share: the same backend of one haproxy, or the same file. */
export function targetOf(pool: ValidPool): string {
  return pool.driver === 'haproxy' ? `haproxy ${pool.socket} ${pool.backend}` : `file ${pool.file}`;
}

/**
 * Load-balancer pools as users set and see them (issue 16): `PUT /balancers/NAME` (`noops lb
 * set`), `GET /balancers` (`lb ls`), `GET /balancers/NAME` (`lb show`: the pool, its members and
 * its agent's last report), `DELETE /balancers/NAME` (`lb rm`).
 *
 * A pool makes its host's agent (root) write a file, signal a daemon and drive a socket at the
 * paths it names, so setting and removing one is an admin's: the server's admin, or a team's
 * admin whose scope covers both the selector and the balancer's host, with root allowed there
 * (`noops root allow`). Reads are a viewer's, of the pools whose selector lies in its scope.
 * Every change is audited and published on the bus (`balancers`, the pool's name).
 */
import { isAbsolute, posix } from 'node:path';
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  BALANCER_DRIVERS,
  BALANCER_NAME_RE,
  type BalancerMember,
  type BalancerReport,
  type BalancerShow,
  type BalancerView,
} from '../../api/index.js';
import { CHANNELS } from '../../bus/index.js';
import { NoopsError } from '../../errors/index.js';
import { PROCESS_NAME_RE } from '../../release/index.js';
import { rootAllowed } from '../../rollout/index.js';
import type { BalancerRow } from '../../store/index.js';
import { formatSelector, parseSelector, parseTag, type Selector } from '../../tree/index.js';
import { authorize, canSee, isServerAdmin } from '../auth.js';
import type { Principal, ServerContext } from '../context.js';
import { rootScopes } from '../grants-cache.js';
import { HostName } from './parse.js';

/**
 * What `lb show` needs from the pools' read model (`balance/`, `ctx.balancers` once the server
 * wires it): a pool's members as noops wants them. Without it a pool shows no members.
 */
export interface BalancerMembersSource {
  members(name: string): readonly BalancerMember[] | undefined | Promise<readonly BalancerMember[] | undefined>;
}

/** The longest path a pool names (Linux's PATH_MAX). */
const MAX_PATH = 4096;
/** haproxy's backend (and nginx's upstream) names: what both accept, and what an agent checks again. */
const BACKEND_RE = /^[A-Za-z0-9_.:-]{1,100}$/;

/** Which keys each driver takes besides the common ones, and which of them it needs. */
const DRIVER_KEYS = {
  haproxy: { needs: ['socket', 'backend'], takes: ['socket', 'backend'] },
  nginx: { needs: ['file'], takes: ['file', 'backend', 'pidFile', 'api'] },
  keepalived: { needs: ['file', 'vip'], takes: ['file', 'vip', 'pidFile'] },
} as const;
const DRIVER_ONLY_KEYS = ['socket', 'backend', 'file', 'vip', 'pidFile', 'api'] as const;
type DriverKey = (typeof DRIVER_ONLY_KEYS)[number];

/** The CLI flag of a key, for messages. */
const FLAG: Record<DriverKey | 'selector' | 'host' | 'process', string> = {
  socket: '--socket',
  backend: '--backend',
  file: '--file',
  vip: '--vip',
  pidFile: '--pid-file',
  api: '--api',
  selector: '-t',
  host: '--host',
  process: '--process',
};

/** An absolute, normalized path: no `..`, no doubled `/`, no control characters. */
const AbsolutePath = z
  .string()
  .max(MAX_PATH)
  .refine((p) => isAbsolute(p) && posix.normalize(p) === p && !p.endsWith('/'), 'give an absolute path, e.g. /etc/nginx/conf.d/shop.conf')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  .refine((p) => !/[\u0000-\u001f\u007f]/.test(p), 'a path holds no control characters');

/** `ADDR:PORT`: an IPv4 address or a bracketed IPv6 one, and a port 1-65535. */
export function parseVip(text: string): { address: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(text);
  if (!m) return undefined;
  const address = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (isIP(address) !== (m[1] !== undefined ? 6 : 4) || port < 1 || port > 65535) return undefined;
  return { address, port };
}

const SpecBody = z
  .object({
    selector: z.string().min(1, 'give the selector of the members, e.g. cop=acme,service=shop').max(512),
    host: HostName,
    driver: z.enum(BALANCER_DRIVERS, { error: `a driver is one of ${BALANCER_DRIVERS.join(', ')}` }),
    socket: AbsolutePath.optional(),
    backend: z.string().regex(BACKEND_RE, 'a backend is 1-100 letters, digits, "_", ".", ":" and "-"').optional(),
    file: AbsolutePath.optional(),
    vip: z
      .string()
      .max(64)
      .refine((v) => parseVip(v) !== undefined, 'a vip is ADDR:PORT, e.g. 10.0.0.10:80 or [fd00::10]:80')
      .optional(),
    process: z.string().regex(PROCESS_NAME_RE, 'a process is a name from the Procfile or noops.yaml, e.g. web').optional(),
    pidFile: AbsolutePath.optional(),
    api: z
      .string()
      .max(64)
      .refine((v) => parseVip(v) !== undefined, 'the control API is ADDR:PORT, e.g. 127.0.0.1:8091 or [::1]:8091')
      .optional(),
  })
  .strict()
  .superRefine((b, issues) => {
    const keys = DRIVER_KEYS[b.driver];
    for (const key of keys.needs)
      if (b[key] === undefined) issues.addIssue({ code: 'custom', path: [key], message: `the ${b.driver} driver needs ${FLAG[key]}` });
    for (const key of DRIVER_ONLY_KEYS)
      if (b[key] !== undefined && !(keys.takes as readonly string[]).includes(key))
        issues.addIssue({ code: 'custom', path: [key], message: `the ${b.driver} driver takes no ${FLAG[key]}` });
  });
type Spec = z.infer<typeof SpecBody>;

function invalid(what: string, message: string): NoopsError {
  return new NoopsError('NOOPS_E_BALANCER_INVALID', `${what}: ${message}`);
}

/** The body checked, or NOOPS_E_BALANCER_INVALID naming the field (by its CLI flag). */
function parseSpec(body: unknown, what: string): Spec {
  const r = SpecBody.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') throw invalid(what, `unknown field "${issue.keys[0]}"`);
  const key = String(issue.path[0] ?? '');
  const field = key in FLAG ? FLAG[key as keyof typeof FLAG] : key;
  throw invalid(what, field ? `${field}: ${issue.message}` : issue.message);
}

/** Whether `address` is loopback (127.0.0.0/8, ::1). */
function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1';
}

/**
 * The control API of an nginx pool is the balancer host's own: a loopback address, or the address
 * its agent is reached at. The agent (root) is never pointed at another machine's port.
 */
function checkApi(api: string, hostAddress: string | null, what: string, host: string): void {
  const { address } = parseVip(api)!;
  const own = hostAddress?.toLowerCase().replace(/^::ffff:(?=\d+\.)/, '') ?? null;
  if (isLoopback(address) || (own !== null && address.toLowerCase() === own)) return;
  throw invalid(
    what,
    `--api: ${api} is neither a loopback address nor ${host}'s (${own ?? 'unknown yet'}): the control API is on the balancer's own host, e.g. 127.0.0.1:8091`,
  );
}

/** A pool's name from the URL, checked. */
function nameOf(params: unknown, what: string): string {
  const name = (params as { name?: unknown }).name;
  if (typeof name !== 'string' || !BALANCER_NAME_RE.test(name))
    throw invalid(
      what,
      `${JSON.stringify(name)} is not a pool name: 1-63 lower-case letters, digits, "_", "." and "-", starting with a letter or digit`,
    );
  return name;
}

/**
 * The selector a user gave (`cop=acme,service=shop`, or a tag), parsed; it names at least one pair
 * (an empty selector would make every instance a member).
 */
function selectorOf(text: string, what: string): Selector {
  const t = text.trim();
  if (t === '') throw invalid(what, '-t: give the selector of the members, e.g. cop=acme,service=shop');
  const sel = t.includes('=')
    ? parseSelector(t)
    : parseSelector(
        parseTag(t)
          .pairs.map((p) => `${p.key}=${p.value}`)
          .join(','),
      );
  if (sel.pairs.length === 0) throw invalid(what, '-t: give the selector of the members, e.g. cop=acme,service=shop');
  return sel;
}

/**
 * The tag a stored selector stands for when checking access: its pairs in tree order. A team sees
 * (and a team's admin manages) a pool when this lies in its scope: `cop=acme,owt=web,pdl=shop`
 * under a scope of `cop.acme_owt.web`; `pdl=shop` alone, which may match beyond it, is the
 * server's admin's.
 */
function accessTag(selector: string): string {
  return parseSelector(selector)
    .pairs.map((p) => `${p.key}.${p.value}`)
    .join('_');
}

/** A stored pool as the wire shows it: the keys it does not set are left out. */
export function balancerView(r: BalancerRow): BalancerView {
  return {
    name: r.name,
    selector: r.selector,
    host: r.host,
    driver: r.driver as BalancerView['driver'],
    ...(r.socket !== null && { socket: r.socket }),
    ...(r.backend !== null && { backend: r.backend }),
    ...(r.file !== null && { file: r.file }),
    ...(r.vip !== null && { vip: r.vip }),
    ...(r.process !== null && { process: r.process }),
    ...(r.pidFile !== null && { pidFile: r.pidFile }),
    ...(r.api !== null && { api: r.api }),
    createdBy: r.createdBy,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/**
 * Each member with what the pool's agent last reported for it, unless the read model gave that
 * already: its state and connections there, or `absent` when a report that worked does not hold it.
 */
export function withApplied(members: readonly BalancerMember[], report: BalancerReport | null): BalancerMember[] {
  const held = new Map((report?.members ?? []).map((m) => [m.id, m]));
  return members.map((m) => {
    if (m.applied !== undefined || report === null) return { ...m };
    const there = held.get(m.id);
    if (there) return { ...m, applied: { state: there.state, connections: there.connections } };
    return report.ok ? { ...m, applied: { state: 'absent', connections: null } } : { ...m };
  });
}

export async function balancerRoutes(api: FastifyInstance, ctx: ServerContext): Promise<void> {
  const members = (): BalancerMembersSource | undefined => (ctx as ServerContext & { balancers?: BalancerMembersSource }).balancers;

  /** A pool `who` may see, or not found (one outside its scope looks like one that does not exist). */
  const visible = async (who: Principal, name: string): Promise<BalancerRow> => {
    const row = await ctx.store.getBalancer(name);
    if (!row || !canSee(who, accessTag(row.selector))) throw new NoopsError('NOOPS_E_BALANCER_UNKNOWN', `no load-balancer pool "${name}"`);
    return row;
  };

  /**
   * Throws unless `who` may make `host`'s agent drive a pool of `selector`: the server's admin;
   * or a team's admin on the selector's node and on the host's, with root allowed at the host's
   * (the agent acts there as root).
   */
  const mayManage = async (who: Principal, selector: string, hostName: string): Promise<void> => {
    if (isServerAdmin(who)) return;
    authorize(who, accessTag(selector), 'admin');
    const host = await ctx.store.getHost(hostName);
    if (!host?.scope)
      throw new NoopsError(
        'NOOPS_E_FORBIDDEN',
        `host ${hostName} is not assigned to any node; only the server's admin may drive a balancer on it`,
        {
          hint: 'ask the noops admin, or to assign the host to your node (`noops host assign`)',
        },
      );
    authorize(who, host.scope, 'admin');
    if (!rootAllowed(host.scope, await rootScopes(ctx.store)))
      throw new NoopsError(
        'NOOPS_E_ROOT_NOT_ALLOWED',
        `a pool drives ${hostName}'s balancer as root, and root is not allowed under ${host.scope}`,
        {
          hint: `the server's admin allows it (\`noops root allow --scope ${host.scope}\`), or sets the pool`,
        },
      );
  };

  const changed = (name: string): Promise<void> => ctx.bus.publish(CHANNELS.balancers, name);

  api.put('/balancers/:name', { config: { access: 'admin' } }, async (req, reply): Promise<BalancerView> => {
    const what = 'lb set';
    const name = nameOf(req.params, what);
    const spec = parseSpec(req.body, `${what} ${name}`);
    const selector = formatSelector(selectorOf(spec.selector, `${what} ${name}`));
    const lbHost = await ctx.store.getHost(spec.host);
    if (!lbHost)
      throw new NoopsError('NOOPS_E_HOST_UNKNOWN', `${what} ${name}: no host ${spec.host}`, {
        hint: "the balancer's host runs `noops agent` (joined to this server); `noops hosts` lists the joined ones",
      });
    if (spec.api !== undefined) checkApi(spec.api, lbHost.address, `${what} ${name}`, spec.host);
    const old = await ctx.store.getBalancer(name);
    if (old) await mayManage(req.principal, old.selector, old.host); // replacing it is managing the old one too
    await mayManage(req.principal, selector, spec.host);
    const at = new Date().toISOString();
    const row: BalancerRow = {
      name,
      selector,
      host: spec.host,
      driver: spec.driver,
      socket: spec.socket ?? null,
      backend: spec.backend ?? null,
      file: spec.file ?? null,
      vip: spec.vip ?? null,
      process: spec.process ?? null,
      pidFile: spec.pidFile ?? null,
      api: spec.api ?? null,
      createdBy: req.principal.name,
      createdAt: at,
      updatedAt: at,
    };
    const stored = await ctx.store.tx(async (s) => {
      const { created } = await s.putBalancer(row);
      await s.audit({ at, actor: req.principal.name, action: 'lb.set', target: `lb ${name}`, detail: { created, ...spec, selector } });
      return { created, row: await s.getBalancer(name) };
    });
    await changed(name);
    reply.code(stored.created ? 201 : 200);
    return balancerView(stored.row ?? row);
  });

  api.get('/balancers', { config: { access: 'viewer' } }, async (req): Promise<{ balancers: BalancerView[] }> => {
    const rows = await ctx.store.listBalancers();
    return { balancers: rows.filter((r) => canSee(req.principal, accessTag(r.selector))).map(balancerView) };
  });

  api.get('/balancers/:name', { config: { access: 'viewer' } }, async (req): Promise<BalancerShow> => {
    const row = await visible(req.principal, nameOf(req.params, 'lb show'));
    const stored = (await ctx.store.listBalancerReports()).find((r) => r.name === row.name);
    const report = stored ? (JSON.parse(stored.report) as BalancerReport) : null;
    const wanted = (await members()?.members(row.name)) ?? [];
    return {
      ...balancerView(row),
      members: withApplied(
        wanted.filter((m) => canSee(req.principal, m.tag)),
        report,
      ),
      report,
    };
  });

  api.delete('/balancers/:name', { config: { access: 'admin' } }, async (req): Promise<BalancerView> => {
    const row = await visible(req.principal, nameOf(req.params, 'lb rm'));
    await mayManage(req.principal, row.selector, row.host);
    await ctx.store.tx(async (s) => {
      await s.deleteBalancer(row.name);
      await s.audit({
        at: new Date().toISOString(),
        actor: req.principal.name,
        action: 'lb.rm',
        target: `lb ${row.name}`,
        detail: { selector: row.selector, host: row.host, driver: row.driver },
      });
    });
    await changed(row.name);
    return balancerView(row);
  });
}

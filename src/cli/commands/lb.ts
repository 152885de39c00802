/**
 * `noops lb set|ls|show|rm`: load-balancer pools bound to the tree (issue 16, docs/balancers.md).
 * A pool's members are the instances under its selector; the noops agent on the balancer's own
 * host drives it (HAProxy's runtime API, an nginx upstream file, keepalived's virtual server).
 *
 *   noops lb set shop -t cop=acme,service=shop --host lb1 --driver haproxy --socket /run/haproxy/admin.sock --backend shop
 *   noops lb show shop
 */
import type { Command } from 'commander';
import {
  listBalancers,
  removeBalancer,
  setBalancer,
  showBalancer,
  type BalancerDriver,
  type BalancerShow,
  type BalancerSpec,
  type BalancerView,
} from '../../api/index.js';
import { type NginxLuaPool, nginxLuaConf } from '../../agent/index.js';
import { NoopsError } from '../../errors/index.js';
import { json, table } from '../output.js';
import { apiOf } from './common.js';

interface SetFlags {
  tag: string;
  host: string;
  driver: string;
  socket?: string;
  backend?: string;
  file?: string;
  vip?: string;
  process?: string;
  pidFile?: string;
  api?: string;
}

/** What a pool drives, in one cell: `backend shop via /run/haproxy/admin.sock`, a file, a vip. */
export function targetOf(b: BalancerView): string {
  switch (b.driver) {
    case 'haproxy':
      return `backend ${b.backend ?? '?'} via ${b.socket ?? '?'}`;
    case 'nginx':
      return `${b.file ?? '?'}${b.backend ? ` (upstream ${b.backend})` : ''}${b.api ? ` via ${b.api}` : ''}`;
    case 'keepalived':
      return `${b.vip ?? '?'} in ${b.file ?? '?'}`;
    default:
      return '';
  }
}

/** The lines `lb show` prints above the members. */
export function describePool(b: BalancerShow): string[] {
  const lines = [
    `pool ${b.name}: ${b.driver} on ${b.host}, ${targetOf(b)}`,
    `members: ${b.process ? `process ${b.process}` : 'every process with a port'} of the instances under ${b.selector}`,
  ];
  if (b.api) lines.push(`set through nginx's control API at ${b.api}, without a reload (\`noops lb nginx-conf ${b.name}\`)`);
  else if (b.pidFile) lines.push(`reload: the pid in ${b.pidFile}`);
  const r = b.report;
  if (r === null) lines.push(`applied: no report from ${b.host}'s agent yet`);
  else if (r.ok) lines.push(`applied: ok at ${r.at} (index ${r.index}), ${r.members.length} held by the balancer`);
  else lines.push(`applied: FAILED at ${r.at} (index ${r.index}): ${r.error ?? 'no reason given'}`);
  return lines;
}

/** One row per member: where it is, what noops wants, what the balancer holds. */
export function memberRows(b: BalancerShow): Record<string, unknown>[] {
  return b.members.map((m) => ({
    host: m.host,
    address: m.address,
    port: m.port,
    tag: m.tag,
    version: m.version,
    state: m.state,
    process: m.process,
    applied: m.applied?.state ?? null,
    connections: m.applied?.connections ?? null,
    id: m.id,
  }));
}

export function registerLb(p: Command): void {
  const lb = p.command('lb').description('load-balancer pools bound to the tree, driven by the noops agent on the balancer host');
  lb.command('set <name>')
    .description('add or replace a pool: the instances under -t, in a balancer on --host (admin)')
    .requiredOption('-t, --tag <selector>', 'whose instances are the members: a selector (cop=acme,service=shop) or a tag')
    .requiredOption('--host <lbhost>', "the balancer's host (its noops agent drives it)")
    .requiredOption('--driver <driver>', 'haproxy, nginx or keepalived')
    .option('--socket <path>', "haproxy: the runtime API's socket (stats socket PATH level admin)")
    .option('--backend <backend>', 'haproxy: the backend the members are added to; nginx: the upstream name (default: the pool name)')
    .option('--file <path>', 'nginx: the upstream file written; keepalived: the virtual_server file written')
    .option('--vip <addr:port>', 'keepalived: the virtual server, ADDR:PORT')
    .option('--process <name>', 'only this process of each instance (default: every process with a port)')
    .option('--pid-file <path>', 'nginx, keepalived: the pid file of the daemon to reload (defaults /run/nginx.pid, /run/keepalived.pid)')
    .option('--api <addr:port>', "nginx: set the members through noops' Lua control API there, without reloads (`noops lb nginx-conf`)")
    .action(async (name: string, o: SetFlags, cmd: Command) => {
      const spec: BalancerSpec = {
        selector: o.tag,
        host: o.host,
        driver: o.driver as BalancerDriver, // the server refuses an unknown one, naming the drivers
        ...(o.socket !== undefined && { socket: o.socket }),
        ...(o.backend !== undefined && { backend: o.backend }),
        ...(o.file !== undefined && { file: o.file }),
        ...(o.vip !== undefined && { vip: o.vip }),
        ...(o.process !== undefined && { process: o.process }),
        ...(o.pidFile !== undefined && { pidFile: o.pidFile }),
        ...(o.api !== undefined && { api: o.api }),
      };
      const view = await setBalancer(apiOf(cmd), name, spec);
      const made = view.createdAt === view.updatedAt ? 'set' : 'replaced';
      process.stdout.write(
        `pool ${view.name} ${made}: ${view.driver} on ${view.host}, ${targetOf(view)}, members under ${view.selector}\n`,
      );
    });
  lb.command('ls')
    .description('list the pools (a team: those under its node)')
    .option('--json', 'print the list as JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const rows = await listBalancers(apiOf(cmd));
      if (o.json) return json(rows);
      table(
        rows.map((r) => ({ ...r, target: targetOf(r), process: r.process ?? '' })),
        ['name', 'selector', 'host', 'driver', 'target', 'process'],
      );
    });
  lb.command('show <name>')
    .description("a pool's members (host, address, port, tag, version, state) and what its balancer holds")
    .option('--json', 'print the pool, its members and its last report as JSON')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      const pool = await showBalancer(apiOf(cmd), name);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(pool, null, 2)}\n`);
        return;
      }
      for (const line of describePool(pool)) process.stdout.write(`${line}\n`);
      table(memberRows(pool), ['host', 'address', 'port', 'tag', 'version', 'state', 'process', 'applied', 'connections', 'id']);
    });
  lb.command('nginx-conf <names...>')
    .description("the nginx blocks (Lua) that let the agent set these --api pools without reloads: put them in nginx's http block")
    .action(async (names: string[], _o: unknown, cmd: Command) => {
      const api = apiOf(cmd);
      const pools: NginxLuaPool[] = [];
      for (const name of names) {
        const b = await showBalancer(api, name);
        if (b.driver !== 'nginx' || !b.api || !b.file)
          throw new NoopsError('NOOPS_E_BALANCER_INVALID', `pool ${name} is not an nginx pool with --api: it needs no Lua blocks`, {
            hint: `set it with \`noops lb set ${name} ... --driver nginx --file PATH --api 127.0.0.1:8091\``,
          });
        pools.push({ name: b.name, upstream: b.backend ?? b.name, file: b.file, api: b.api });
      }
      process.stdout.write(nginxLuaConf(pools));
    });
  lb.command('rm <name>')
    .description('stop driving a pool: the balancer keeps what it holds (admin)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const view = await removeBalancer(apiOf(cmd), name);
      process.stdout.write(`pool ${view.name} removed: noops no longer drives it; ${view.host}'s balancer keeps the members it holds\n`);
    });
}

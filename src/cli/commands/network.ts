/**
 * `noops network set|show`: the containers' address pool (issue 17, docs/containers.md, "Network and addresses"). The server
 * gives each host a subnet of the pool (the first time the host needs one, then kept), and each
 * container on the host gets its own address from it: that address is what naming and the load
 * balancers register.
 *
 *   noops network set --pool 198.18.0.0/15 --per-host 24
 *   noops network show
 */
import type { Command } from 'commander';
import { setNetwork, showNetwork, type NetworkView } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { table } from '../output.js';
import { apiOf } from './common.js';

interface SetFlags {
  pool: string;
  perHost: string;
  driver?: string;
  parent?: string;
  json?: boolean;
}

/** The pool in one line: `pool 198.18.0.0/15, a /24 per host (512 hosts), driver bridge`. */
export function describeNetwork(v: NetworkView): string {
  const hosts = 2 ** Math.max(0, v.perHost - Number(v.pool.split('/')[1]));
  const parent = v.parent === null ? '' : ` on ${v.parent}`;
  return `pool ${v.pool}, a /${v.perHost} per host (${hosts} hosts), driver ${v.driver}${parent}; ${v.hosts.length} given`;
}

/** The hosts' rows: host, subnet, gateway (the subnet's first address). */
export function subnetRows(v: NetworkView): { host: string; subnet: string; gateway: string }[] {
  return v.hosts.map((h) => {
    const [base] = h.subnet.split('/');
    const octets = base!.split('.').map(Number);
    octets[3] = octets[3]! + 1;
    return { host: h.host, subnet: h.subnet, gateway: octets.join('.') };
  });
}

function print(v: NetworkView, asJson: boolean | undefined): void {
  if (asJson) {
    process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${describeNetwork(v)}\n`);
  table(subnetRows(v), ['host', 'subnet', 'gateway']);
}

export function registerNetwork(p: Command): void {
  const n = p.command('network').description("the containers' address pool: a subnet per host, an address per container");
  n.command('set')
    .description("set the pool every host's subnet is cut from (the server's admin)")
    .requiredOption('--pool <cidr>', 'the pool, an IPv4 CIDR, e.g. 198.18.0.0/15')
    .requiredOption('--per-host <prefix>', "the prefix length of each host's subnet, e.g. 24 (254 containers a host)")
    .option('--driver <bridge|macvlan>', 'the Docker network driver on each host (default bridge)')
    .option('--parent <if>', "macvlan only: the host's interface the network sits on")
    .option('--json', 'print the pool and the subnets given as JSON')
    .action(async (o: SetFlags, cmd: Command) => {
      if (!/^\d{1,2}$/.test(o.perHost.replace(/^\//, '')))
        throw new NoopsError('NOOPS_E_NETWORK_INVALID', `--per-host: "${o.perHost}" is not a prefix length (e.g. 24)`);
      const view = await setNetwork(apiOf(cmd), {
        pool: o.pool,
        perHost: Number(o.perHost.replace(/^\//, '')),
        ...(o.driver !== undefined && { driver: o.driver as NetworkView['driver'] }),
        ...(o.parent !== undefined && { parent: o.parent }),
      });
      print(view, o.json);
    });
  n.command('show')
    .description('the pool and the subnet each host was given (a team: its own hosts)')
    .option('--json', 'print the pool and the subnets as JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      print(await showNetwork(apiOf(cmd)), o.json);
    });
}

/**
 * The host's container network: one Docker network of the name, subnet, gateway and driver
 * of `DesiredState.network`, made by noops (labelled) when absent. A noops network that differs
 * is replaced only when no container is on it; a network of that name noops did not make is
 * never touched. Without a network (no pool set), containers use the engine's default bridge.
 */
import type Dockerode from 'dockerode';
import type { HostNetwork } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { engineError, isOwned, OWNED_LABELS } from '../../engine/index.js';

/** The engine's default bridge: where containers go when the host has no network of noops. */
export const DEFAULT_BRIDGE = 'bridge';

/** The name of the network to start containers on, made or fixed first. */
export async function ensureNetwork(docker: Dockerode, net: HostNetwork | undefined): Promise<string> {
  if (net === undefined) return DEFAULT_BRIDGE;
  const found = (
    await docker.listNetworks({ filters: { name: [net.name] } }).catch((e) => Promise.reject(engineError('listing networks', e)))
  ).find((n) => n.Name === net.name);
  if (found !== undefined) {
    const info = (await docker.getNetwork(found.Id).inspect()) as Dockerode.NetworkInspectInfo;
    if (sameNetwork(info, net)) return net.name;
    if (!isOwned(info.Labels)) {
      throw new NoopsError(
        'NOOPS_E_CONTAINER',
        `a Docker network "${net.name}" that noops did not make exists on this host (${describe(info)}); noops leaves it alone and cannot start containers on ${net.subnet}`,
        { hint: `remove or rename that network by hand (docker network rm ${net.name}) if it is not needed` },
      );
    }
    const attached = Object.keys(info.Containers ?? {}).length;
    if (attached > 0) {
      throw new NoopsError(
        'NOOPS_E_CONTAINER',
        `the network "${net.name}" is ${describe(info)} but this host's subnet is now ${net.subnet}; ${attached} containers are still on it, so it is kept until they are gone`,
      );
    }
    await docker
      .getNetwork(found.Id)
      .remove()
      .catch((e) => Promise.reject(engineError(`removing the old network ${net.name}`, e)));
  }
  await docker
    .createNetwork({
      Name: net.name,
      Driver: net.driver,
      CheckDuplicate: true,
      Labels: { ...OWNED_LABELS },
      IPAM: { Driver: 'default', Config: [{ Subnet: net.subnet, Gateway: net.gateway }] },
      ...(net.driver === 'macvlan' && net.parent !== null && { Options: { parent: net.parent } }),
    })
    .catch((e) => Promise.reject(engineError(`creating the network ${net.name} (${net.subnet})`, e)));
  return net.name;
}

function sameNetwork(info: Dockerode.NetworkInspectInfo, net: HostNetwork): boolean {
  const config = info.IPAM?.Config?.[0];
  return info.Driver === net.driver && config?.Subnet === net.subnet && (config.Gateway ?? net.gateway) === net.gateway;
}

function describe(info: Dockerode.NetworkInspectInfo): string {
  const config = info.IPAM?.Config?.[0];
  return `${info.Driver} ${config?.Subnet ?? 'without a subnet'}${config?.Gateway ? ` via ${config.Gateway}` : ''}`;
}

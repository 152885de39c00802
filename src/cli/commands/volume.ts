/**
 * `noops volume ls|rm`: the engine volumes noops made for containers (issue 17,
 * docs/containers.md "Volumes"). Each host's agent lists its own (asked now, through the server);
 * a removal happens only when noops made the volume and no container mounts it.
 *
 *   noops volume ls [HOST] [--json]
 *   noops volume rm HOST VOLUME
 */
import type { Command } from 'commander';
import { listVolumes, removeVolume, type VolumesView } from '../../api/index.js';
import { table } from '../output.js';
import { apiOf } from './common.js';

/** The rows of `noops volume ls`: one per volume, and one per host whose agent did not answer. */
export function volumeRows(v: VolumesView): Record<string, string>[] {
  return v.hosts.flatMap((h) =>
    h.error !== null
      ? [{ host: h.host, volume: '-', tag: '-', process: '-', 'in use': `no answer: ${h.error.message}` }]
      : h.volumes.map((vol) => ({
          host: h.host,
          volume: vol.name,
          tag: vol.tag,
          process: vol.process,
          'in use': vol.inUse ? `yes (${vol.containers.join(', ')})` : 'no',
        })),
  );
}

export function registerVolume(p: Command): void {
  const v = p.command('volume').description('the volumes noops made for containers, per host');
  v.command('ls [host]')
    .description('list the volumes of noops on each host (or one), with whether a container mounts them')
    .option('--json', 'print a VolumesView as JSON')
    .action(async (host: string | undefined, o: { json?: boolean }, cmd: Command) => {
      const view = await listVolumes(apiOf(cmd), host);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
        return;
      }
      const rows = volumeRows(view);
      if (rows.length === 0) process.stdout.write('no volumes of noops\n');
      else table(rows, ['host', 'volume', 'tag', 'process', 'in use']);
    });
  v.command('rm <host> <volume>')
    .description('remove a volume of noops that no container mounts (the admin, or a deployer of its tag)')
    .action(async (host: string, volume: string, _o: unknown, cmd: Command) => {
      const gone = await removeVolume(apiOf(cmd), host, volume);
      process.stdout.write(`removed ${gone.name} (${gone.tag}) on ${gone.host}\n`);
    });
}

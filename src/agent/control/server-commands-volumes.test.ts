/**
 * The agent's side of `noops volume ls|rm`: a `volumes` command answers the engine's list as its
 * result, a `volume-rm` removes the volume named in `process`, a refusal is posted as the
 * command's error with its code, and an agent without an engine says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentCommand, ApiClient, CommandUpdate, VolumeReport } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import type { Control } from './control.js';
import { CommandLoop, type HostVolumes } from './server-commands.js';

const VOLUME: VolumeReport = { name: 'noops-a-web-data', tag: 'a.b', process: 'web', inUse: false, containers: [], createdAt: null };

function loop(volumes: HostVolumes | undefined): { run: (cmd: Partial<AgentCommand>) => Promise<CommandUpdate[]> } {
  return {
    async run(cmd) {
      const posted: CommandUpdate[] = [];
      const api = {
        updateCommand: async (_id: number, u: CommandUpdate) => {
          posted.push(u);
          return { cancelled: false };
        },
      } as unknown as ApiClient;
      const l = new CommandLoop(
        () => api,
        {} as Control,
        () => undefined,
        new AbortController().signal,
        volumes,
      );
      await l.execute({ id: 1, tag: 'a.b', process: null, lines: 0, follow: false, action: 'volumes', ...cmd });
      return posted;
    },
  };
}

test('volumes and volume-rm go to the engine; a refusal is the command error with its code; no engine says so', async () => {
  const asked: string[] = [];
  const volumes: HostVolumes = {
    volumes: async () => [VOLUME],
    removeVolume: async (name) => {
      asked.push(name);
      if (name === 'busy') throw new NoopsError('NOOPS_E_VOLUME_IN_USE', 'mounted');
      return VOLUME;
    },
  };
  assert.deepEqual(await loop(volumes).run({ action: 'volumes' }), [{ result: [VOLUME], done: true }]);
  assert.deepEqual(await loop(volumes).run({ action: 'volume-rm', process: VOLUME.name }), [{ result: VOLUME, done: true }]);
  const [busy] = await loop(volumes).run({ action: 'volume-rm', process: 'busy' });
  assert.equal(busy?.error?.code, 'NOOPS_E_VOLUME_IN_USE');
  assert.deepEqual(asked, [VOLUME.name, 'busy']);
  const [none] = await loop(undefined).run({ action: 'volumes' });
  assert.equal(none?.error?.code, 'NOOPS_E_CONTAINER');
  assert.match(none?.error?.message ?? '', /no container engine/);
});

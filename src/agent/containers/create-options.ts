/**
 * Pure: the engine's create options of a process's container, and what an engine failure says
 * went missing under the agent's feet (the base image, the network), so a start can make it
 * again and try once more instead of failing until the agent restarts.
 */
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS } from '../../api/index.js';
import { shellScript, type ContainerSpec, type WatchSpec } from '../../supervisor/index.js';
import { OWNED_LABELS, statusOf } from '../../engine/index.js';
import { volumeMounts, type InstanceVolume } from './instance-volumes.js';

/** What a create needs beyond the spec: the image, the network, the user, the volumes' engine names, and the create's nonce. */
export interface CreateFacts {
  image: string;
  network: string;
  /** uid:gid */
  user: string;
  /** this agent's name (the `noops.host` label) */
  host: string;
  volumes: readonly InstanceVolume[];
  /** marks the volumes this create makes (instance-volumes.ts) */
  nonce: string;
}

/** The create options of the container of `spec`. */
export function createOptions(spec: WatchSpec & { container: ContainerSpec }, facts: CreateFacts): Dockerode.ContainerCreateOptions {
  const labels = { ...spec.container.labels, [CONTAINER_LABELS.host]: facts.host, ...OWNED_LABELS };
  const r = spec.container.resources ?? {};
  return {
    name: `noops-${spec.id.replace(/[^a-zA-Z0-9_.-]/g, '_').slice(0, 100)}-${randomBytes(4).toString('hex')}`,
    Image: facts.image,
    Cmd: ['/bin/sh', '-c', shellScript(spec.command, spec.env.PATH, spec.cwd)],
    WorkingDir: spec.cwd,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    User: facts.user,
    Labels: labels,
    HostConfig: {
      NetworkMode: facts.network,
      Mounts: [
        ...spec.container.mounts.map((m) => ({ Type: 'bind' as const, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
        ...volumeMounts(facts.volumes, labels, facts.nonce),
      ],
      ...(r.cpu !== undefined && { NanoCpus: Math.round(r.cpu * 1e9) }),
      // no swap beyond the limit: over it is an oom, not a slow process
      ...(r.memory !== undefined && { Memory: r.memory, MemorySwap: r.memory }),
      ...(r.pids !== undefined && { PidsLimit: r.pids }),
    },
  };
}

/**
 * What an engine failure says is gone: the image (a create's 404 "No such image: X") or the
 * network (a start's 404 "network X not found": the engine checks it at the start, not the create).
 */
export function missingOf(err: unknown): 'image' | 'network' | null {
  if (statusOf(err) !== 404) return null;
  const message = (err as { json?: { message?: string } }).json?.message ?? (err as Error).message ?? '';
  if (/no such image/i.test(message)) return 'image';
  if (/network \S+ not found/i.test(message)) return 'network';
  return null;
}

/**
 * The host's Docker Engine, through dockerode (loaded on first use: an agent that runs no
 * container never loads it), and the ownership rule: everything noops creates carries
 * `noops.owned=1`, and nothing without it is listed, touched or removed.
 */
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS } from '../api/index.js';
import { NoopsError } from '../errors/index.js';

/** The engine's socket on a Debian host (docker.io). */
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** The label every object noops creates carries. */
export const OWNED_LABELS: Record<string, string> = { [CONTAINER_LABELS.owned]: '1' };

/** A dockerode client on `socketPath`, once the engine answered a ping. Throws NOOPS_E_CONTAINER when it does not. */
export async function connectEngine(socketPath = DEFAULT_DOCKER_SOCKET): Promise<Dockerode> {
  const { default: Docker } = await import('dockerode');
  const docker = new Docker({ socketPath });
  try {
    await docker.ping();
  } catch (err) {
    throw new NoopsError('NOOPS_E_CONTAINER', `the Docker Engine at ${socketPath} does not answer: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return docker;
}

/** The engine's `label` filter for objects of noops, narrowed by `labels` (all must match). */
export function ownedFilter(labels: Record<string, string> = {}): { label: string[] } {
  return { label: Object.entries({ ...OWNED_LABELS, ...labels }).map(([k, v]) => `${k}=${v}`) };
}

/** Whether an object's labels say noops made it. */
export function isOwned(labels: Record<string, string> | null | undefined): boolean {
  return labels?.[CONTAINER_LABELS.owned] === '1';
}

/** The engine's HTTP status of a failed call (404: no such object), if it has one. */
export function statusOf(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown }).statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** A failure of the engine, as a NoopsError whose message says what noops was doing. */
export function engineError(doing: string, err: unknown): NoopsError {
  if (err instanceof NoopsError) return err;
  const json = (err as { json?: { message?: string } }).json;
  return new NoopsError('NOOPS_E_CONTAINER', `${doing}: ${json?.message ?? (err as Error).message}`, { cause: err });
}

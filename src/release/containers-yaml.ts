/**
 * The container keys of noops.yaml and manifest.json (issue 17, docs/containers.md): `driver`,
 * `image`, `resources` (at the top and under a process) and `volumes`. One schema per form:
 * noops.yaml takes sizes with units (`256M`, `1G`), manifest.json holds bytes.
 */
import { z } from 'zod';
import { byteSize } from './supervision.js';
import type { ManifestResources, ManifestVolume } from './types.js';

/** The drivers a job may name (api's PROCESS_DRIVERS; repeated here: release/ loads no api/). */
export const DRIVERS = ['process', 'container'] as const;

/** `driver: process|container`. */
export const driverField = z.enum(DRIVERS, { error: 'expected process or container' });

/**
 * A local image's name, as `docker images` shows it (`debian:12`, `registry.example/app:1.2`,
 * `sha256:...`): never pulled, so the host must have it.
 */
export const imageField = z
  .string({ error: 'expected an image name, e.g. debian:12' })
  .regex(/^[a-z0-9][a-z0-9._/:@-]{0,254}$/, 'expected an image name of lower-case letters, digits and . _ / : @ -, e.g. debian:12');

const cpu = z
  .number({ error: 'expected a number of cores, e.g. 0.5' })
  .positive('expected more than 0 cores')
  .max(1024, 'expected at most 1024 cores');
const pids = z
  .number({ error: 'expected a whole number of processes' })
  .int('expected a whole number of processes')
  .min(8, 'expected at least 8 processes (the shell and the program need a few)')
  .max(4_194_304, 'expected at most 4194304 processes');
/** 6 MiB: the engine refuses a smaller memory limit. */
const MIN_MEMORY = 6 * 1024 * 1024;
const memoryLimit = (m: number) => m >= MIN_MEMORY;
const MEMORY_ERROR = 'expected at least 6M (the engine refuses less)';

/** noops.yaml's `resources: {cpu: 0.5, memory: 256M, pids: 200}`. */
export const yamlResources = z.strictObject(
  { cpu: cpu.optional(), memory: byteSize.refine(memoryLimit, MEMORY_ERROR).optional(), pids: pids.optional() },
  { error: 'expected a mapping of cpu, memory and pids, e.g. { cpu: 0.5, memory: 256M, pids: 200 }' },
);

/** manifest.json's `resources` (memory in bytes). */
export const manifestResources = z.strictObject({
  cpu: cpu.optional(),
  memory: z.number().int().refine(memoryLimit, MEMORY_ERROR).optional(),
  pids: pids.optional(),
});

/** A volume's name: it becomes part of the engine's volume name. */
const volumeName = z
  .string({ error: 'expected a volume name' })
  .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'expected a name of lower-case letters, digits, _ and - (at most 40), e.g. data');
const volumePath = z
  .string({ error: 'expected an absolute path in the container, e.g. /data' })
  .regex(/^\/[^:,\s]*$/, 'expected an absolute path without spaces, commas or colons, e.g. /data')
  .refine((p) => p !== '/' && !p.split('/').includes('..'), 'expected a folder below / without ".."');

/** One volume: `{ name: data, path: /data }`. */
const volume = z.strictObject(
  { name: volumeName, path: volumePath },
  { error: 'expected a mapping of name and path, e.g. { name: data, path: /data }' },
);

/** `volumes: [{name, path}]`: names and paths each used once. */
export const volumesField = z
  .array(volume, { error: 'expected a list of volumes, e.g. [{ name: data, path: /data }]' })
  .superRefine((list, ctx) => {
    const names = new Set<string>();
    const paths = new Set<string>();
    for (const [i, v] of list.entries()) {
      if (names.has(v.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `volume "${v.name}" is named twice` });
      if (paths.has(v.path)) ctx.addIssue({ code: 'custom', path: [i, 'path'], message: `${v.path} is the path of another volume` });
      names.add(v.name);
      paths.add(v.path);
    }
  });

/** Resources without the keys left out (zod's output may carry `undefined`). */
export function toResources(
  r: { cpu?: number | undefined; memory?: number | undefined; pids?: number | undefined } | undefined,
): ManifestResources | undefined {
  if (r === undefined) return undefined;
  const out: ManifestResources = {};
  if (r.cpu !== undefined) out.cpu = r.cpu;
  if (r.memory !== undefined) out.memory = r.memory;
  if (r.pids !== undefined) out.pids = r.pids;
  return out;
}

/** The volumes as the manifest keeps them. */
export function toVolumes(v: readonly ManifestVolume[] | undefined): ManifestVolume[] | undefined {
  return v?.map(({ name, path }) => ({ name, path }));
}

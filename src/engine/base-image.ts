/**
 * noops' base image, built on the host from the host's own files, once, and verified: no
 * registry is reachable. A static busybox when the host has one (Debian's busybox-static), else
 * the host's /bin/sh with the libraries `ldd` lists; the dynamic loader and the libraries of the
 * agent's own node (mounted at its path, so `$NOOPS_NODE` runs inside); /etc/passwd and group; /tmp.
 * Named `noops-base:<12 characters of its content hash>`, labelled `noops.owned=1` and `noops.base=<hash>`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type Dockerode from 'dockerode';
import { NoopsError } from '../errors/index.js';
import { engineError, OWNED_LABELS, statusOf } from './engine.js';

/** The repository of the base image. */
export const BASE_REPO = 'noops-base';
/** The label that carries the full content hash. */
export const BASE_LABEL = 'noops.base';
const BUSYBOX = '/bin/busybox';

/** One file of the image: a copy of a host file, or a symlink. */
type Entry = { path: string; from: string } | { path: string; link: string };

/** The shared libraries `ldd` lists for a program (with the loader), as real paths; none for a static one. */
export function sharedLibraries(program: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [program], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return []; // "not a dynamic executable"
  }
  const paths = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) paths.add(m[1]!);
  }
  return [...paths];
}

/** The files of the base image, from this host. */
export function baseImageEntries(node = process.execPath): Entry[] {
  const entries: Entry[] = [];
  const libs = new Set<string>(sharedLibraries(node));
  if (existsSync(BUSYBOX) && sharedLibraries(BUSYBOX).length === 0) {
    entries.push({ path: '/bin/busybox', from: BUSYBOX });
    const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
      .split('\n')
      .filter((a) => /^[a-z0-9_.[-]+$/.test(a));
    for (const a of applets) if (a !== 'busybox') entries.push({ path: `/bin/${a}`, link: 'busybox' });
  } else {
    entries.push({ path: '/bin/sh', from: realpathSync('/bin/sh') });
    for (const l of sharedLibraries('/bin/sh')) libs.add(l);
  }
  for (const l of libs) entries.push({ path: l, from: l });
  for (const f of ['/etc/passwd', '/etc/group']) if (existsSync(f)) entries.push({ path: f, from: f });
  return entries.sort((a, b) => a.path.localeCompare(b.path));
}

/** The content hash of the entries: paths, link targets, file contents. */
export function entriesHash(entries: readonly Entry[]): string {
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(`${e.path}\0`);
    h.update('link' in e ? `->${e.link}\0` : createHash('sha256').update(readFileSync(e.from)).digest('hex'));
  }
  return h.digest('hex');
}

/**
 * The base image's name on this host, built (from the host's files) and verified when missing:
 * its `noops.base` label must be its hash and `/bin/sh -c true` must run in it.
 */
export async function ensureBaseImage(docker: Dockerode, log: (line: string) => void): Promise<string> {
  const entries = baseImageEntries();
  const hash = entriesHash(entries);
  const name = `${BASE_REPO}:${hash.slice(0, 12)}`;
  let labels = await imageLabels(docker, name);
  if (labels === null) {
    await importImage(docker, entries, hash);
    labels = await imageLabels(docker, name);
    log(`built the base image ${name} from this host's files`);
  }
  if (labels?.[BASE_LABEL] !== hash) {
    throw new NoopsError('NOOPS_E_CONTAINER', `the image ${name} is not noops' base image (its ${BASE_LABEL} label is not ${hash})`, {
      hint: `remove it (docker rmi ${name}): noops builds it again`,
    });
  }
  await probe(docker, name);
  return name;
}

async function imageLabels(docker: Dockerode, name: string): Promise<Record<string, string> | null> {
  try {
    return (await docker.getImage(name).inspect()).Config?.Labels ?? {};
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw engineError(`looking for the image ${name}`, err);
  }
}

/** Writes the entries into a folder, tars it and imports it as the image. */
async function importImage(docker: Dockerode, entries: readonly Entry[], hash: string): Promise<void> {
  const { create } = await import('tar');
  const dir = mkdtempSync(join(tmpdir(), 'noops-base-'));
  try {
    for (const e of entries) {
      const to = join(dir, e.path);
      mkdirSync(dirname(to), { recursive: true });
      if ('link' in e) symlinkSync(e.link, to);
      else copyFileSync(e.from, to);
    }
    mkdirSync(join(dir, 'tmp'));
    chmodSync(join(dir, 'tmp'), 0o1777);
    const tarball = create({ cwd: dir, portable: true }, ['.']);
    const changes = [`LABEL ${Object.entries(OWNED_LABELS).map(([k, v]) => `${k}=${v}`)[0]}`, `LABEL ${BASE_LABEL}=${hash}`];
    const out = await docker.importImage(tarball as unknown as NodeJS.ReadableStream, { repo: BASE_REPO, tag: hash.slice(0, 12), changes });
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(out, (err: Error | null, res: { error?: string }[]) => {
        const failed = res?.find((r) => r.error);
        if (err || failed) reject(engineError('importing the base image', err ?? new Error(failed?.error)));
        else resolve();
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `/bin/sh -c true` in the image: it must exit 0. The probe container is removed. */
async function probe(docker: Dockerode, image: string): Promise<void> {
  const c = await docker
    .createContainer({ Image: image, Cmd: ['/bin/sh', '-c', 'true'], Labels: { ...OWNED_LABELS }, HostConfig: { NetworkMode: 'none' } })
    .catch((e) => Promise.reject(engineError(`probing the base image ${image}`, e)));
  try {
    await c.start();
    const { StatusCode } = (await c.wait()) as { StatusCode: number };
    if (StatusCode !== 0)
      throw new NoopsError('NOOPS_E_CONTAINER', `/bin/sh -c true exited with code ${StatusCode} in the base image ${image}`);
  } catch (err) {
    throw engineError(`probing the base image ${image}`, err);
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
}

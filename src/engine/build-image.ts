/**
 * noops' build image (issue 17): what a build step's container needs to run the tools the stacks
 * use (sh, node and npm, python3, go, java and mvn, git, make, cc) without a registry. Made on the
 * host by noops, from the host's own files, once per content hash, and verified:
 *
 * - the image holds a copy of the host's `/etc` as the build's uid could read it under bubblewrap
 *   (world-readable files and symlinks: alternatives, ld.so.cache, CA certificates, passwd), minus
 *   what the engine writes itself (hosts, hostname, resolv.conf) and minus any hidden folder (the
 *   server's data folder when it lies in /etc); the host's top-level links (`/bin -> usr/bin` on a
 *   merged /usr) and an empty mount point for each toolchain folder; a /tmp;
 * - the toolchain folders themselves (`/usr`, and `/bin`, `/sbin`, `/lib*` where they are real
 *   folders) are bound read-only into each step's container at run time (6 GB of /usr is not
 *   copied), so a step runs the host's own programs as bubblewrap's steps do;
 * - the hash covers the /etc copy, the links, and the toolchain's fingerprint (each stack program
 *   found, by real path, size and change time, and dpkg's package list): when the host's toolchain
 *   changes (an `apt-get install`, a new node in /usr/local), the name changes and a new image is
 *   made. Named `noops-build:<12 characters of the hash>`, labelled `noops.owned=1` and
 *   `noops.build-image=<hash>`; verified by its label and a probe container running `/bin/sh -c true`
 *   with the toolchain bound, as an unprivileged uid (nobody), with no capabilities.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import type { Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type Dockerode from 'dockerode';
import { NoopsError } from '../errors/index.js';
import { engineError, OWNED_LABELS, statusOf } from './engine.js';

/** The repository of the build image. */
export const BUILD_IMAGE_REPO = 'noops-build';
/** The label that carries the build image's full content hash. */
export const BUILD_IMAGE_LABEL = 'noops.build-image';

/** The host folders that hold the toolchain: bound read-only into every step (the real ones), or linked (a merged /usr). */
export const TOOLCHAIN_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'] as const;

/** The programs of the stacks detection knows (src/build/stacks.ts), and the shell and tools build scripts use. */
export const TOOLCHAIN_PROGRAMS = ['sh', 'node', 'npm', 'npx', 'python3', 'pip3', 'go', 'java', 'mvn', 'git', 'make', 'cc'] as const;

/** Where the programs are looked for: the PATH of a Debian root, inside the toolchain folders only. */
export const TOOLCHAIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Files of /etc the engine writes into every container itself. */
const ENGINE_ETC = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'];

/**
 * The uid of the probe: `nobody`, not a uid of the builds' range (61000-61183), whose ends kill
 * every process of their uid (`kill -KILL -1`): one ending as the probe runs would fail it, and the
 * server would take builds out of containers.
 */
const PROBE_UID = 65534;

/** One entry of the image: a copy of a host file, a symlink, or an empty folder (a mount point). */
export type BuildImageEntry = { path: string; from: string } | { path: string; link: string } | { path: string; dir: true };

/** What {@link buildImagePlan} reads: the host's by default; tests give their own. */
export interface BuildImageSource {
  /** the folder copied as /etc; default /etc */
  etcDir?: string;
  /** folders never copied (the server's data folder, the hidden folders) */
  hide?: readonly string[];
  /** the toolchain folders; default {@link TOOLCHAIN_DIRS} */
  toolchainDirs?: readonly string[];
  /** where the programs are looked for; default {@link TOOLCHAIN_PATH} */
  path?: string;
  /** files whose content is part of the hash; default dpkg's package list */
  fingerprint?: readonly string[];
}

/** Files that change when packages do: an install that replaces no program still changes the image. */
const FINGERPRINT_FILES = ['/var/lib/dpkg/status'];

/** The image's files, the folders bound at run time, and what the toolchain has. */
export interface BuildImagePlan {
  entries: BuildImageEntry[];
  /** the toolchain folders that are real folders here: bound read-only at their own path */
  mounts: string[];
  /** each stack program found, with its real path, size and change time: part of the hash */
  toolchain: { program: string; path: string; size: number; ctimeMs: number }[];
  hash: string;
}

/** The image's content, from this host. */
export function buildImagePlan(src: BuildImageSource = {}): BuildImagePlan {
  const etcDir = src.etcDir ?? '/etc';
  const hide = src.hide ?? [];
  const entries: BuildImageEntry[] = [];
  const mounts: string[] = [];
  for (const d of src.toolchainDirs ?? TOOLCHAIN_DIRS) {
    const st = lstatOrNull(d);
    if (st?.isSymbolicLink()) entries.push({ path: d, link: readlinkSync(d) });
    else if (st?.isDirectory()) {
      entries.push({ path: d, dir: true });
      mounts.push(d);
    }
  }
  copyWorldReadable(etcDir, '/etc', hide, entries);
  entries.push({ path: '/tmp', dir: true });
  entries.sort((a, b) => a.path.localeCompare(b.path));
  const toolchain = findPrograms(src.path ?? TOOLCHAIN_PATH, mounts);
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(`${e.path}\0`);
    if ('link' in e) h.update(`->${e.link}\0`);
    else if ('dir' in e) h.update('/\0');
    else h.update(createHash('sha256').update(readFileSync(e.from)).digest('hex'));
  }
  for (const t of toolchain) h.update(`${t.program}=${t.path}:${t.size}:${t.ctimeMs}\0`);
  for (const f of src.fingerprint ?? FINGERPRINT_FILES) {
    if (existsSync(f)) h.update(`${f}=${createHash('sha256').update(readFileSync(f)).digest('hex')}\0`);
  }
  return { entries, mounts, toolchain, hash: h.digest('hex') };
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/** Adds what another user could read of `dir` (world-readable files, symlinks, passable folders) as `at`. */
function copyWorldReadable(dir: string, at: string, hide: readonly string[], out: BuildImageEntry[]): void {
  for (const name of readdirSync(dir).sort()) {
    const from = join(dir, name);
    const path = `${at}/${name}`;
    if (ENGINE_ETC.includes(path) || hide.some((h) => from === h || from.startsWith(`${h}/`))) continue;
    const st = lstatOrNull(from);
    if (!st) continue;
    if (st.isSymbolicLink()) out.push({ path, link: readlinkSync(from) });
    else if (st.isDirectory()) {
      // a folder other users cannot enter keeps its secrets (ssl/private)
      if ((Number(st.mode) & 0o005) === 0o005) copyWorldReadable(from, path, hide, out);
    } else if (st.isFile() && (Number(st.mode) & 0o004) !== 0) out.push({ path, from });
  }
}

/** The stack programs found on `path`, inside the bound folders only (what a step can run). */
function findPrograms(path: string, mounts: readonly string[]): BuildImagePlan['toolchain'] {
  const out: BuildImagePlan['toolchain'] = [];
  for (const program of TOOLCHAIN_PROGRAMS) {
    for (const dir of path.split(':')) {
      const p = join(dir, program);
      if (!existsSync(p)) continue;
      let real: string;
      try {
        real = realpathSync(p);
      } catch {
        continue; // a dangling link
      }
      if (!mounts.some((m) => real.startsWith(`${m}/`))) continue;
      const st = statSync(real);
      out.push({ program, path: real, size: st.size, ctimeMs: Math.trunc(st.ctimeMs) });
      break;
    }
  }
  return out;
}

/** The build image ready to run: its name, the folders to bind read-only, the programs it has. */
export interface BuildImage {
  image: string;
  mounts: string[];
  programs: string[];
}

/**
 * The build image for this host's toolchain, made (from the host's files) and verified when
 * missing: its `noops.build-image` label must be its hash, and `/bin/sh -c true` must run in it
 * with the toolchain bound, as an unprivileged uid (nobody).
 *
 * @throws NoopsError NOOPS_E_CONTAINER when the engine refuses, the label is wrong or the probe fails
 */
export async function ensureBuildImage(docker: Dockerode, log: (line: string) => void, src: BuildImageSource = {}): Promise<BuildImage> {
  const plan = buildImagePlan(src);
  const name = `${BUILD_IMAGE_REPO}:${plan.hash.slice(0, 12)}`;
  let found = await inspectImage(docker, name);
  if (found === null) {
    await importImage(docker, plan);
    found = await inspectImage(docker, name);
    if (found === null)
      throw new NoopsError('NOOPS_E_CONTAINER', `the build image ${name} was gone right after its import (removed meanwhile)`);
    log(`built the build image ${name} from this host's /etc and toolchain (${plan.toolchain.map((t) => t.program).join(', ')})`);
  }
  if (found?.labels[BUILD_IMAGE_LABEL] !== plan.hash) {
    throw new NoopsError(
      'NOOPS_E_CONTAINER',
      `the image ${name} is not noops' build image (its ${BUILD_IMAGE_LABEL} label is not ${plan.hash})`,
      {
        hint: `remove it (docker rmi ${name}): noops builds it again`,
      },
    );
  }
  // probed once per image id in this process: a build looks again at most every 30 s
  if (!probed.has(found.id)) {
    await probe(docker, name, plan.mounts);
    probed.add(found.id);
  }
  return { image: name, mounts: plan.mounts, programs: plan.toolchain.map((t) => t.program) };
}

/** The ids of the images whose probe passed in this process. */
const probed = new Set<string>();

async function inspectImage(docker: Dockerode, name: string): Promise<{ id: string; labels: Record<string, string> } | null> {
  try {
    const info = await docker.getImage(name).inspect();
    return { id: info.Id, labels: info.Config?.Labels ?? {} };
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw engineError(`looking for the image ${name}`, err);
  }
}

/** Writes the entries into a folder, tars it and imports it as the image. */
async function importImage(docker: Dockerode, plan: BuildImagePlan): Promise<void> {
  const { create } = await import('tar');
  const dir = mkdtempSync(join(tmpdir(), 'noops-build-image-'));
  try {
    for (const e of plan.entries) {
      const to = join(dir, e.path);
      mkdirSync(dirname(to), { recursive: true });
      if ('link' in e) symlinkSync(e.link, to);
      else if ('dir' in e) mkdirSync(to, { recursive: true });
      else copyFileSync(e.from, to);
    }
    chmodSync(join(dir, 'tmp'), 0o1777);
    const tarball = create({ cwd: dir, portable: true }, ['.']);
    const tag = plan.hash.slice(0, 12);
    const changes = [...Object.entries(OWNED_LABELS).map(([k, v]) => `LABEL ${k}=${v}`), `LABEL ${BUILD_IMAGE_LABEL}=${plan.hash}`];
    const out = await docker
      .importImage(tarball as unknown as NodeJS.ReadableStream, { repo: BUILD_IMAGE_REPO, tag, changes })
      .catch((e) => Promise.reject(engineError('importing the build image', e)));
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(out, (err: Error | null, res: { error?: string }[]) => {
        const failed = res?.find((r) => r.error);
        if (err || failed) reject(engineError('importing the build image', err ?? new Error(failed?.error)));
        else resolve();
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `/bin/sh -c true` in the image with the toolchain bound, as nobody (an unprivileged uid): it must exit 0. The probe is removed. */
async function probe(docker: Dockerode, image: string, mounts: readonly string[]): Promise<void> {
  const c = await docker
    .createContainer({
      Image: image,
      Cmd: ['/bin/sh', '-c', 'true'],
      User: `${PROBE_UID}:${PROBE_UID}`,
      Labels: { ...OWNED_LABELS },
      HostConfig: {
        NetworkMode: 'none',
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Mounts: mounts.map((m) => ({ Type: 'bind' as const, Source: m, Target: m, ReadOnly: true })),
      },
    })
    .catch((e) => Promise.reject(engineError(`probing the build image ${image}`, e)));
  try {
    await c.start();
    const { StatusCode } = (await c.wait()) as { StatusCode: number };
    if (StatusCode !== 0)
      throw new NoopsError('NOOPS_E_CONTAINER', `/bin/sh -c true exited with code ${StatusCode} in the build image ${image}`);
  } catch (err) {
    throw engineError(`probing the build image ${image}`, err);
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
}

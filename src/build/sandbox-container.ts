/**
 * The build sandbox, container kind (issue 17): each step (a build or test command, a deploy
 * test) runs in a throwaway container on the host's Docker Engine, made from noops' build image
 * (engine/build-image.ts: the host's /etc as another user reads it, made on the host, once per
 * content hash). It sees the host's toolchain folders (/usr, and /bin, /lib* where they are real
 * folders) read-only, so `npm`, `python3`, `go`, `mvn`, `make` and `cc` are the host's, as under
 * bubblewrap; the step's own folder read-write; the build runtimes and the server's node read-only;
 * nothing else of the host (no data folder, no /home, /root, /tmp, /var, no Docker socket). It runs
 * as the build's uid with no capabilities and `no-new-privileges` (a setuid program of /usr gains
 * nothing), under {@link SANDBOX_LIMITS} (tasks, memory, files), and is removed when the step ends.
 * Labelled `noops.owned=1`, `noops.build=<id>` and `noops.build.server=<data folder>`, so that what a
 * crash left behind is found and removed, and only by the server it belongs to.
 *
 * Network: as bubblewrap's steps, the host's (installs fetch packages from registries, deploy
 * tests reach the instances at the host's addresses, 127.0.0.1 included): {@link STEP_NETWORK}.
 */
import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type Dockerode from 'dockerode';
import {
  type BuildImage,
  type BuildImageSource,
  connectEngine,
  engineError,
  ensureBuildImage,
  OWNED_LABELS,
  ownedFilter,
  type PruneOptions,
  pruneBuildImages,
  statusOf,
} from '../engine/index.js';
import type { RunResult } from './exec.js';
import type { SandboxId, SandboxLimits } from './sandbox.js';

/** The label naming the build (or deploy test) a step's container belongs to. */
export const BUILD_LABEL = 'noops.build';
/**
 * The label naming the server a step's container belongs to, by its data folder: build ids are
 * each server's own (two servers on one engine both have a build 1), so a server removes only
 * containers of its own builds, and at its start those a crash of its own left.
 */
export const SERVER_LABEL = 'noops.build.server';

/** The engine network of every step: the host's, as bubblewrap shares it (see the file comment). */
export const STEP_NETWORK = 'host';

/** The last characters of each stream kept in the result, as exec.ts keeps them. */
const CAPTURE_LIMIT = 64 * 1024;
/** After the container exits, how long its output may still take to arrive. */
const OUTPUT_DRAIN_MS = 1_000;
/** How often a build's first step looks whether the host's toolchain changed (a new build image). */
export const IMAGE_RECHECK_MS = 30_000;

/** What the container kind needs of the engine: the client and the build image of the host's toolchain now. */
export interface StepEngine {
  docker: Dockerode;
  /**
   * The build image for the toolchain as it is now (made again when it changed; checked at most
   * every {@link IMAGE_RECHECK_MS}); `fresh`: checked now (the image went missing).
   */
  image(fresh?: boolean): Promise<BuildImage>;
}

/** How a {@link stepEngine} keeps its images. */
export interface StepEngineOptions {
  /** which older build images it removes once it has a new current one; default all of noops' unused ones (tests: their own) */
  prune?: PruneOptions;
}

/**
 * Connects to the engine at `socket` and makes (or finds) the build image from `src` (the host's
 * files; `src.hide` are the folders no step may see, never copied into the image). Each time the
 * current image changes (at the start too), the older build images no container uses are removed
 * (engine/prune.ts), in the background.
 *
 * @throws NoopsError NOOPS_E_CONTAINER when the engine does not answer or the image cannot be made or verified
 */
export async function stepEngine(
  socket: string,
  src: BuildImageSource,
  log: (line: string) => void,
  opts: StepEngineOptions = {},
): Promise<StepEngine> {
  const docker = await connectEngine(socket);
  let pruned: string | undefined;
  const ensure = async (): Promise<BuildImage> => {
    const made = await ensureBuildImage(docker, log, src);
    if (made.image !== pruned) {
      pruned = made.image;
      void pruneBuildImages(docker, made.image, log, opts.prune).catch((err: Error) =>
        log(`could not remove old build images: ${err.message}`),
      );
    }
    return made;
  };
  let current = await ensure();
  let checkedAt = Date.now();
  let checking: Promise<BuildImage> | undefined;
  return {
    docker,
    image: async (fresh = false) => {
      if (!fresh && Date.now() - checkedAt < IMAGE_RECHECK_MS) return current;
      checking ??= ensure().finally(() => {
        checking = undefined;
        checkedAt = Date.now();
      });
      current = await checking;
      return current;
    },
  };
}

/** One step, as the container kind runs it. */
export interface ContainerStep {
  argv: readonly string[];
  /** the step's own folder: bound read-write at its own path, the only one it may write */
  work: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  id: SandboxId;
  /** the build or deploy test the container belongs to (the `noops.build` label) */
  owner: string;
  /** the server's data folder: {@link SERVER_LABEL} */
  server: string;
}

/** What a step sees besides its own folder. */
export interface ContainerView {
  /** the host's toolchain folders: bound read-only at their own paths */
  system: readonly string[];
  /** the runtimes, the server's node: bound read-only at their own paths (unless a toolchain folder holds them) */
  readable: readonly string[];
  /** folders no step may see: an empty tmpfs over those that lie in a toolchain folder */
  hide: readonly string[];
  limits: SandboxLimits;
}

/**
 * The engine's create options of one step: pure.
 *
 * @example
 *   containerSpec('noops-build:0123456789ab', { system: ['/usr'], readable: ['/data/runtimes'], hide: ['/data'], limits: SANDBOX_LIMITS },
 *     { argv: ['/bin/sh', '-c', 'make'], work: '/w', cwd: '/w/src', env: { HOME: '/w/home' }, id: { uid: 61000, gid: 61000 }, owner: '7', server: '/data' })
 *   // { Image: 'noops-build:0123456789ab', User: '61000:61000', WorkingDir: '/w/src', Cmd: ['/bin/sh', '-c', 'make'], ... }
 */
export function containerSpec(image: string, view: ContainerView, step: ContainerStep): Dockerode.ContainerCreateOptions {
  const l = view.limits;
  const limit = (Name: string, n: number) => ({ Name, Soft: n, Hard: n });
  const inSystem = (p: string) => view.system.some((s) => inside(p, s));
  const ro = (p: string) => ({ Type: 'bind' as const, Source: p, Target: p, ReadOnly: true });
  return {
    Image: image,
    Cmd: [...step.argv],
    Env: Object.entries(step.env)
      .filter(([k, v]) => v !== undefined && k !== 'USER' && k !== 'LOGNAME') // the build's uid has no name
      .map(([k, v]) => `${k}=${v}`),
    WorkingDir: step.cwd,
    User: `${step.id.uid}:${step.id.gid}`,
    Labels: { ...OWNED_LABELS, [BUILD_LABEL]: step.owner, [SERVER_LABEL]: step.server },
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    HostConfig: {
      Mounts: [
        ...view.system.map(ro),
        { Type: 'bind', Source: step.work, Target: step.work, ReadOnly: false },
        ...view.readable.filter((r) => r !== step.work && !inSystem(r)).map(ro),
      ],
      // a hidden folder inside /usr (a data folder in /usr/local) is an empty, read-only tmpfs there
      ...(view.hide.some(inSystem) ? { Tmpfs: Object.fromEntries(view.hide.filter(inSystem).map((h) => [h, 'ro'])) } : {}),
      ReadonlyRootfs: true,
      NetworkMode: STEP_NETWORK,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      // the cgroup's task limit holds for the whole container, where RLIMIT_NPROC counts per uid
      PidsLimit: l.processes,
      Memory: l.memoryBytes,
      MemorySwap: l.memoryBytes, // no swap beyond it
      Ulimits: [limit('nproc', l.processes), limit('data', l.dataBytes), limit('fsize', l.fileBytes), limit('core', 0)],
    },
  };
}

/** True when `path` is `dir` or below it. */
function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** The folders of `view.readable` that exist here (the engine refuses to bind a missing one). */
export function existing(paths: readonly string[]): string[] {
  return paths.filter((p) => existsSync(p));
}

/**
 * Hands `emit` only whole lines of a stream written in pieces (what is left at `end()` too), so
 * two streams' lines never run into each other in one log.
 *
 * @example
 *   const l = wholeLines(emit); l.write('err-1'); l.write(': no\nnext'); l.end()  // emits 'err-1: no\n', then 'next'
 */
export function wholeLines(emit: (text: string) => void): { write(text: string): void; end(): void } {
  let partial = '';
  return {
    write(text) {
      const pending = partial + text;
      const cut = pending.lastIndexOf('\n') + 1;
      partial = pending.slice(cut);
      if (cut > 0) emit(pending.slice(0, cut));
    },
    end() {
      if (partial !== '') emit(partial);
      partial = '';
    },
  };
}

/**
 * Runs one step in a container of the engine's current build image (see {@link runInContainer});
 * when that image is gone by the time the container is made (an older one another server of this
 * engine pruned, or one removed by hand), the image is looked for (and made) again, once.
 */
export async function runStep(
  engine: StepEngine,
  view: Omit<ContainerView, 'system'>,
  step: ContainerStep,
  opts: { deadline: number; onOutput?: (text: string) => void },
): Promise<RunResult> {
  const specOf = (image: BuildImage) => containerSpec(image.image, { ...view, system: image.mounts }, step);
  return runInContainer(engine, specOf(await engine.image()), { ...opts, remake: async () => specOf(await engine.image(true)) });
}

/**
 * Runs one step in a container made from `spec`, streaming its output to `onOutput`; kills it
 * at `deadline` (timedOut); removes it, whatever happened. `remake`: the create options to try
 * once more when the engine has no such image.
 *
 * @throws NoopsError NOOPS_E_CONTAINER when the engine refuses to create, start or remove it
 */
export async function runInContainer(
  engine: Pick<StepEngine, 'docker'>,
  spec: Dockerode.ContainerCreateOptions,
  opts: { deadline: number; onOutput?: (text: string) => void; remake?: () => Promise<Dockerode.ContainerCreateOptions> },
): Promise<RunResult> {
  const { docker } = engine;
  const c = await createStep(docker, spec, opts.remake);
  let timer: NodeJS.Timeout | undefined;
  try {
    const out = { stdout: '', stderr: '' };
    const stream = await c.attach({ stream: true, stdout: true, stderr: true });
    const ended = new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
    // The engine sends stdout and stderr as separate streams, in frames that may end mid-line (dash
    // writes an error and its newline apart), so the log is given whole lines of each stream: a
    // line of one never runs into a line of the other (seen in CI: "Read-only file systemrefused: ...").
    const collect = (key: 'stdout' | 'stderr'): PassThrough => {
      const p = new PassThrough();
      const decoder = new StringDecoder('utf8');
      const lines = wholeLines((text) => opts.onOutput?.(text));
      const take = (text: string): void => {
        if (text !== '') out[key] = (out[key] + text).slice(-CAPTURE_LIMIT);
        lines.write(text);
      };
      p.on('data', (chunk: Buffer) => take(decoder.write(chunk)));
      p.on('end', () => {
        take(decoder.end());
        lines.end();
      });
      return p;
    };
    const stdout = collect('stdout');
    const stderr = collect('stderr');
    docker.modem.demuxStream(stream, stdout, stderr);
    await c.start().catch((e) => Promise.reject(engineError("starting a build step's container", e)));
    let timedOut = false;
    timer = setTimeout(
      () => {
        timedOut = true;
        c.kill().catch(() => undefined); // it may have exited meanwhile: wait() below ends either way
      },
      Math.max(0, opts.deadline - Date.now()),
    );
    const { StatusCode } = (await c.wait().catch((e) => Promise.reject(engineError("waiting for a build step's container", e)))) as {
      StatusCode: number;
    };
    clearTimeout(timer);
    let drain: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise((r) => (drain = setTimeout(r, OUTPUT_DRAIN_MS)))]);
    clearTimeout(drain);
    // output later than the drain is let go: the stream is closed before the collectors end, so
    // a late frame is never written to an ended one (an 'error' event nobody listens to: a crash)
    (stream as unknown as { destroy(): void }).destroy();
    stdout.end();
    stderr.end();
    return timedOut ? { code: null, signal: 'SIGKILL', timedOut, ...out } : { code: StatusCode, signal: null, timedOut: false, ...out };
  } finally {
    clearTimeout(timer);
    await c.remove({ force: true, v: true }).catch((e) => {
      if (statusOf(e) !== 404) throw engineError("removing a build step's container", e);
    });
  }
}

/** Creates a step's container; on a missing image (404), once more with `remake`'s options. */
async function createStep(
  docker: Dockerode,
  spec: Dockerode.ContainerCreateOptions,
  remake?: () => Promise<Dockerode.ContainerCreateOptions>,
): Promise<Dockerode.Container> {
  try {
    return await docker.createContainer(spec);
  } catch (err) {
    if (statusOf(err) === 404 && remake) return createStep(docker, await remake());
    throw engineError("creating a build step's container", err);
  }
}

/**
 * Removes every container of the server whose data folder is `server` still there: of its build
 * `owner` (a step the server did not see end), or of all its builds (`owner` undefined: at its
 * start, what a crash left). Another server's are never touched, whatever their build ids.
 */
export async function removeStepContainers(docker: Dockerode, server: string, owner?: string): Promise<number> {
  const which = owner === undefined ? 'the build steps a crash left' : `the containers of build ${owner}`;
  const left = await docker
    .listContainers({ all: true, filters: ownedFilter({ [SERVER_LABEL]: server, ...(owner !== undefined && { [BUILD_LABEL]: owner }) }) })
    .catch((e) => Promise.reject(engineError(`listing ${which}`, e)));
  for (const info of left) {
    await docker
      .getContainer(info.Id)
      .remove({ force: true, v: true })
      .catch((e) => {
        if (statusOf(e) !== 404) throw engineError(`removing the container ${info.Id.slice(0, 12)} (${which})`, e);
      });
  }
  return left.length;
}

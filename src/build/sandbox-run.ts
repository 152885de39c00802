/**
 * The build sandbox, doing part: finds at server start which kind of sandbox works here (see
 * sandbox.ts), hands out one uid per build, makes folders the build's own, runs steps through
 * {@link planStep}, and kills what a build left running.
 */
import { randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { access, chmod, lchown, lstat, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DOCKER_SOCKET } from '../engine/index.js';
import { NoopsError } from '../errors/index.js';
import { run, type RunResult } from './exec.js';
import {
  DEFAULT_TOOLS,
  SANDBOX_LIMITS,
  planStep,
  type SandboxId,
  type SandboxKind,
  type SandboxPolicy,
  type SandboxTools,
} from './sandbox.js';
import { killAll, removeLeftovers } from './sandbox-cleanup.js';
import { existing, removeStepContainers, runStep, stepEngine, type StepEngine } from './sandbox-container.js';
import { UidLeases } from './uid-lease.js';

/**
 * The builds' uids: BUILD_UID_BASE + n, n < BUILD_UID_COUNT, with no /etc/passwd entry. 61000
 * to 61183 lies above the range of ordinary users (1000-59999) and below systemd's DynamicUser
 * range (61184-65519), so it is nobody's on a Debian host. 184 builds and deploy tests at once
 * is more than a build server's cores run. The range is the host's, shared by every server on it:
 * a uid is leased host-wide (uid-lease.ts), so no two builds hold one at once.
 */
export const BUILD_UID_BASE = 61000;
export const BUILD_UID_COUNT = 184;
/** The builds' uids, lowest first. */
const BUILD_UIDS: readonly number[] = Array.from({ length: BUILD_UID_COUNT }, (_, n) => BUILD_UID_BASE + n);

/**
 * Folders hidden from every step besides the data folder: home folders (ssh keys, cloud
 * credentials), other users' temp files (test repositories, other servers' data), and the agent's
 * default root (other jobs' releases, with their env). Only those that exist at server start:
 * bwrap cannot make a mount point in the read-only root.
 */
export const HIDDEN_FOLDERS = ['/root', '/home', '/tmp', '/var/tmp', '/var/lib/noops'] as const;

/** The probe at server start (bwrap runs /bin/true) fails rather than hang a start. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * `--build-sandbox`: `auto` is the container kind where the host's Docker Engine answers and the
 * build image can be made, else the strongest process kind that works here (bubblewrap first);
 * `container` runs each step in a throwaway container (refused when the engine does not answer);
 * `none` runs builds as the server's user.
 */
export type SandboxMode = 'auto' | 'container' | 'none';

/** The modes `--build-sandbox` takes. */
export const SANDBOX_MODES: readonly SandboxMode[] = ['auto', 'container', 'none'];

/** What the server tells {@link Sandbox.detect}. */
export interface SandboxOptions {
  mode: SandboxMode;
  /** the server's data folder: hidden from every step */
  dataDir: string;
  /** folders steps may read (the build runtimes, DATA/runtimes) */
  readable: readonly string[];
  /** the server's log: the sandbox says once what it could not do */
  log: (line: string) => void;
  tools?: SandboxTools;
  /** the Docker Engine's socket (mode container); default /var/run/docker.sock */
  dockerSocket?: string;
}

/** How a step runs, as {@link run} takes it minus the user. */
export interface SandboxRunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  deadline: number;
  onOutput?: (text: string) => void;
}

/** The sandbox of one server: its kind, and the uids in use. */
export class Sandbox {
  /** the host's build uids (uid-lease.ts; made at the first session that needs one) */
  #leases: UidLeases | undefined;

  private constructor(
    /** the policy every step runs under; undefined when no sandbox works and none was allowed */
    readonly policy: SandboxPolicy | undefined,
    /** why the sandbox is weaker than bwrap (or missing), for the server log and the build error */
    readonly note: string,
    /** where the builds' and deploy tests' folders go (see {@link workRoot}) */
    private readonly root: string,
    /** true when the sandbox made `root` (kind uid) and removes it on close */
    private readonly ownsRoot = false,
    /** the engine and the base image (kind container) */
    private readonly engine?: StepEngine,
  ) {}

  /** Removes the folder the sandbox made for its builds (kind uid); the server calls it on close. */
  async close(): Promise<void> {
    if (this.ownsRoot) await rm(this.root, { recursive: true, force: true });
  }

  /**
   * No sandbox: steps run as the calling process runs them. For unit tests of the build, and for
   * a server started with `--build-sandbox none`.
   */
  static none(root: string = tmpdir()): Sandbox {
    return new Sandbox({ kind: 'none', hide: [], readable: [], limits: SANDBOX_LIMITS, tools: DEFAULT_TOOLS }, '', root);
  }

  /**
   * The strongest sandbox that works on this machine: a container per step where the Docker
   * Engine answers, else bwrap as root, else the build's uid alone (as root), else bwrap in a user
   * namespace (not root), else none, when builds are refused. Tried for real (the build image's
   * probe, bwrap runs /bin/true), since a container may forbid namespaces.
   */
  static async detect(opts: SandboxOptions): Promise<Sandbox> {
    const dataDir = opts.dataDir;
    if (opts.mode === 'none') {
      opts.log(
        "noops: warning: --build-sandbox none: builds and deploy tests run as the server's own user and can read its data folder and tokens\n",
      );
      return new Sandbox(
        { kind: 'none', hide: [], readable: [], limits: SANDBOX_LIMITS, tools: opts.tools ?? DEFAULT_TOOLS },
        'sandbox turned off (--build-sandbox none)',
        dataDir,
      );
    }
    const tools = opts.tools ?? DEFAULT_TOOLS;
    const inContainers = await Sandbox.container(opts, tools);
    if (opts.mode === 'container' || inContainers.policy) return inContainers;
    const root = process.getuid?.() === 0;
    const policy = (kind: SandboxKind): SandboxPolicy => ({
      kind,
      hide: [dataDir, ...HIDDEN_FOLDERS.filter((f) => existsSync(f))],
      readable: opts.readable,
      limits: SANDBOX_LIMITS,
      tools,
    });
    const missing = await missingTools(tools, root);
    if (root) {
      if (missing.includes(tools.prlimit) || missing.includes(tools.setpriv)) {
        return Sandbox.unavailable(opts, `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing (util-linux)`);
      }
      const why = missing.includes(tools.bwrap) ? `${tools.bwrap} is missing` : await probe(policy('bwrap'));
      if (why === undefined) return new Sandbox(policy('bwrap'), '', dataDir);
      // without namespaces the build's folder must be reachable by its uid: outside the (0700) data folder
      const work = await mkdtemp(join(tmpdir(), 'noops-work-'));
      await chmod(work, 0o711);
      // no mount hides the data folder: its own mode must (an older one may have been made 0755)
      await chmod(dataDir, 0o700);
      const note = `bubblewrap does not work here (${why}): builds and deploy tests run as their own uid with limits, but without a private mount or PID namespace, and without the build runtimes`;
      opts.log(`noops: warning: ${note}\n`);
      return new Sandbox(policy('uid'), note, work, true);
    }
    if (missing.includes(tools.bwrap) || missing.includes(tools.prlimit))
      return Sandbox.unavailable(opts, `${missing.join(' and ')} missing, and the server is not root`);
    const why = await probe(policy('userns'));
    if (why !== undefined)
      return Sandbox.unavailable(opts, `the server is not root, and bubblewrap cannot make a user namespace here (${why})`);
    opts.log(
      "noops: builds and deploy tests run in bubblewrap as the server's user (not root: no uid of their own), with its data folder hidden\n",
    );
    return new Sandbox(policy('userns'), "not root: builds run as the server's user, in bubblewrap", dataDir);
  }

  /**
   * Kind container: the engine must answer and the build image be there (made from the host's
   * files when missing), else builds are refused (mode container), saying why: no weaker kind is
   * taken silently. In mode auto the server's log says why, and the process kinds are tried next.
   */
  private static async container(opts: SandboxOptions, tools: SandboxTools): Promise<Sandbox> {
    const socket = opts.dockerSocket ?? DEFAULT_DOCKER_SOCKET;
    const hide = [opts.dataDir, ...HIDDEN_FOLDERS];
    let engine: StepEngine;
    let image: string;
    try {
      engine = await stepEngine(socket, { hide }, (line) => opts.log(`noops: ${line}\n`));
      image = (await engine.image()).image;
      // what a crash of this server (its data folder) left running: nothing of it runs now
      const left = await removeStepContainers(engine.docker, opts.dataDir);
      if (left > 0) opts.log(`noops: removed ${left} build step container(s) a previous run of this server left\n`);
    } catch (err) {
      if (opts.mode === 'container') return Sandbox.unavailable(opts, `--build-sandbox container: ${(err as Error).message}`);
      // a host without an engine is the usual case of the process kinds: said only when an engine is there and fails
      if (existsSync(socket)) opts.log(`noops: builds do not run in containers here (${(err as Error).message}): trying bubblewrap\n`);
      return new Sandbox(undefined, (err as Error).message, opts.dataDir);
    }
    // the server's node, read-only at its own path (inside /usr it is there already)
    const readable = [...opts.readable, process.execPath];
    const policy: SandboxPolicy = { kind: 'container', hide, readable, limits: SANDBOX_LIMITS, tools };
    opts.log(
      `noops: builds and deploy tests run in throwaway containers of ${image} (Docker Engine at ${socket}; --build-sandbox ${opts.mode})\n`,
    );
    return new Sandbox(policy, '', opts.dataDir, false, engine);
  }

  /** No sandbox works here: every build and deploy test is refused, saying why. */
  private static unavailable(opts: SandboxOptions, why: string): Sandbox {
    opts.log(
      `noops: warning: builds and deploy tests are refused: they cannot run sandboxed here (${why}); start the server with --build-sandbox none to run them as its own user\n`,
    );
    return new Sandbox(undefined, why, opts.dataDir);
  }

  /** The kind steps run under; undefined when builds are refused. */
  get kind(): SandboxKind | undefined {
    return this.policy?.kind;
  }

  /**
   * The folder for `name` (builds, deploy-tests): in the data folder, except for the uid kind,
   * whose steps cannot pass the data folder (0700) and get a 0711 folder of their own.
   */
  workRoot(name: string): string {
    return join(this.root, name);
  }

  /**
   * A session for one build or deploy test: a uid of its own (kinds bwrap, uid, and container
   * when the server is root). `owner` names it on its containers (`noops.build`); default random.
   *
   * @throws NoopsError NOOPS_E_BUILD_SANDBOX when no sandbox works here, or every uid is in use
   */
  open(owner: string = randomBytes(6).toString('hex')): SandboxSession {
    if (!this.policy) {
      throw new NoopsError('NOOPS_E_BUILD_SANDBOX', `builds cannot run sandboxed on this server: ${this.note}`);
    }
    const container = this.engine ? { engine: this.engine, owner, server: this.root } : undefined;
    const ownUid = this.policy.kind === 'bwrap' || this.policy.kind === 'uid' || (container && process.getuid?.() === 0);
    if (!ownUid) {
      // not root: a container step runs as the server's own uid, which owns the build's files already
      const self = container ? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 } : undefined;
      return new SandboxSession(this.policy, self, () => undefined, container);
    }
    this.#leases ??= new UidLeases();
    const leases = this.#leases;
    const uid = leases.take(BUILD_UIDS);
    if (uid === undefined) {
      throw new NoopsError(
        'NOOPS_E_BUILD_SANDBOX',
        `all ${BUILD_UID_COUNT} build uids are in use by running builds and deploy tests (of every server on this host)`,
        { hint: 'wait for some to end, then try again' },
      );
    }
    return new SandboxSession(this.policy, { uid, gid: uid }, () => leases.free(uid), container);
  }
}

/**
 * One build's (or deploy test's) use of the sandbox: stop it when its commands are done, and
 * close it once its folder is removed, whatever happened (the uid goes to the next build only then).
 */
export class SandboxSession {
  private stopped = false;
  private closed = false;
  /** a step was started: only then can something of the build still run */
  private started = false;

  constructor(
    private readonly policy: SandboxPolicy,
    /** the build's own user; undefined when the steps run as the server's (userns, none) */
    readonly id: SandboxId | undefined,
    private readonly release: () => void,
    /** kind container: the engine, and the name of this build on its containers */
    private readonly container?: { engine: StepEngine; owner: string; server: string },
  ) {}

  /**
   * Makes `path` the build's own: it and everything in it owned by the build's uid, `path` 0700
   * (other builds' uids cannot read it). Symlinks are changed themselves, never followed.
   */
  async own(path: string): Promise<void> {
    if (!this.id) return;
    const { uid, gid } = this.id;
    const walk = async (p: string): Promise<void> => {
      const st = await lstat(p);
      await lchown(p, uid, gid);
      if (st.isDirectory()) for (const name of await readdir(p)) await walk(join(p, name));
    };
    await walk(path);
    await chmod(path, 0o700);
  }

  /** A fresh folder owned by the build (HOME, TMPDIR). */
  async mkdir(path: string): Promise<void> {
    await mkdir(path, { mode: 0o700 });
    await this.own(path);
  }

  /**
   * Runs `argv` in the sandbox, `work` being the only folder it may write.
   *
   * @throws the spawn error when the program (prlimit, bwrap) cannot start
   */
  async run(argv: readonly string[], work: string, opts: SandboxRunOptions): Promise<RunResult> {
    if (this.container && this.id) {
      const { engine, owner, server } = this.container;
      const view = { readable: existing(this.policy.readable), hide: this.policy.hide, limits: this.policy.limits };
      this.started = true;
      const step = { argv, work, cwd: opts.cwd, env: opts.env, id: this.id, owner, server };
      return runStep(engine, view, step, { deadline: opts.deadline, onOutput: opts.onOutput });
    }
    const plan = planStep(this.policy, { argv, work, cwd: opts.cwd, env: opts.env, id: this.id });
    this.started = true;
    return run(plan.file, plan.args, {
      cwd: plan.cwd,
      env: plan.env,
      uid: plan.uid,
      gid: plan.gid,
      deadline: opts.deadline,
      onOutput: opts.onOutput,
    });
  }

  /**
   * Kills every process the build's uid still has (a daemon that left the process group, where
   * no PID namespace ends them all). Call it before the server reads what the build wrote:
   * nothing of the build may change files after.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.id || !this.started) return;
    // a container's processes end with it; one a crash of the step left behind goes now
    if (this.container) {
      await removeStepContainers(this.container.engine.docker, this.container.server, this.container.owner);
      return;
    }
    await killAll(this.id);
    // without a mount namespace the build could write to the machine's shared temp folders,
    // where the next build given this uid would find it
    if (this.policy.kind === 'uid') await removeLeftovers(this.id);
  }

  /**
   * Stops the session if it was not, then frees the uid. Call it after the build's folder is
   * removed: a later build with the same uid would own the files still there.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.stop();
    } finally {
      this.release();
    }
  }
}

/** The tools the kinds need that are not executable here. */
async function missingTools(tools: SandboxTools, root: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const t of root ? [tools.prlimit, tools.setpriv, tools.bwrap] : [tools.prlimit, tools.bwrap]) {
    try {
      await access(t, constants.X_OK);
    } catch {
      out.push(t);
    }
  }
  return out;
}

/** Runs /bin/true in the sandbox; answers why it failed, or undefined when it worked. */
async function probe(policy: SandboxPolicy): Promise<string | undefined> {
  const work = await mkdtemp(join(tmpdir(), 'noops-probe-'));
  let leases: UidLeases | undefined;
  let uid: number | undefined;
  try {
    if (policy.kind === 'bwrap') {
      // a build uid leased as a build's: another server's build ending as that uid would kill the probe
      leases = new UidLeases();
      uid = leases.take(BUILD_UIDS);
      if (uid === undefined) return `all ${BUILD_UID_COUNT} build uids are in use`;
    }
    const id = uid === undefined ? undefined : { uid, gid: uid };
    if (id) await lchown(work, id.uid, id.gid);
    const plan = planStep(policy, { argv: ['/bin/true'], work, cwd: work, env: { PATH: '/usr/bin:/bin' }, id });
    const r = await run(plan.file, plan.args, {
      cwd: plan.cwd,
      env: plan.env,
      uid: plan.uid,
      gid: plan.gid,
      deadline: Date.now() + PROBE_TIMEOUT_MS,
    });
    if (r.timedOut) return `${PROBE_TIMEOUT_MS / 1000} s passed`;
    if (r.code !== 0) return (r.stderr.trim().split('\n').at(-1) ?? '') || `exit code ${r.code}`;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    if (uid !== undefined) leases?.free(uid);
    await rm(work, { recursive: true, force: true });
  }
}

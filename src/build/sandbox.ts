/**
 * The build sandbox, deciding part: how one command from a repository (a build or test step, a
 * deploy test) is started so that it runs as nobody the server knows, sees nothing of the
 * server's data, and stops at its limits. Pure: {@link planStep} only builds the argv; the
 * doing is in sandbox-run.ts.
 *
 * Kinds, strongest first:
 *   bwrap   server is root, bubblewrap works: private mount, PID, IPC and UTS namespaces; the
 *           data folder, the home and temp folders are empty tmpfs; only the step's own folder
 *           is writable; then setpriv drops to the build's own uid with no capabilities.
 *   uid     server is root, bubblewrap does not work (some containers): the build's own uid,
 *           limits, a folder outside the data folder; no namespaces.
 *   userns  server is not root, bubblewrap works in a user namespace: the same mounts and
 *           namespaces as bwrap, but the server's own uid (it cannot switch).
 *   container  `--build-sandbox container`, and `auto` where the host's Docker Engine answers:
 *           each step in a throwaway container of noops' build image, as the build's uid, seeing
 *           the host's toolchain read-only, its folder and the runtimes, and nothing else
 *           (sandbox-container.ts; {@link planStep} does not plan it).
 *   none    started with `--build-sandbox none`: steps run as the server runs them.
 */

/** How a step is sandboxed; see the file comment. */
export type SandboxKind = 'bwrap' | 'uid' | 'userns' | 'container' | 'none';

/** Limits of every process a step starts (setrlimit, inherited by its children). */
export interface SandboxLimits {
  /** RLIMIT_NPROC: processes and threads of the build's uid (only where the uid is the build's own) */
  processes: number;
  /** RLIMIT_DATA in bytes: the writable memory of one process */
  dataBytes: number;
  /** RLIMIT_FSIZE in bytes: the largest file a step may write */
  fileBytes: number;
  /** the memory of a whole step, in bytes (kind container only: the engine's cgroup limit, no swap beyond it) */
  memoryBytes: number;
}

/**
 * The limits of build and deploy-test steps.
 * - processes: a fork bomb stops at 1,024 tasks (threads count: a JVM has about 30, Node about
 *   11), while `make -j`, jest workers or Maven's forks on a build server stay far below.
 * - dataBytes: 4 GiB per process, twice what a big webpack or javac run takes. RLIMIT_DATA
 *   counts writable private mappings only, so the address space V8, Go and the JVM reserve
 *   (PROT_NONE) is free; it bounds one process, not the whole build (cgroup memory.max would;
 *   see docs/security.md, "Builds and deploy tests: the sandbox").
 * - fileBytes: 4 GiB, above any jar or bundle a release should carry.
 * - memoryBytes: 4 GiB for a whole step in a container (the process kinds cannot bound a build:
 *   cgroup v1 here), as much as one process may take: `make -j` of small compilers fits, a fork of
 *   many 4 GiB processes does not.
 */
export const SANDBOX_LIMITS: SandboxLimits = {
  processes: 1024,
  dataBytes: 4 * 1024 ** 3,
  fileBytes: 4 * 1024 ** 3,
  memoryBytes: 4 * 1024 ** 3,
};

/** The programs the plans name, by absolute path: the build's PATH (runtimes first) must not choose them. */
export interface SandboxTools {
  prlimit: string;
  bwrap: string;
  setpriv: string;
}

/** Where the programs are on Debian and most Linux distributions. */
export const DEFAULT_TOOLS: SandboxTools = { prlimit: '/usr/bin/prlimit', bwrap: '/usr/bin/bwrap', setpriv: '/usr/bin/setpriv' };

/** How every step of this server is sandboxed. */
export interface SandboxPolicy {
  kind: SandboxKind;
  /** folders shown empty (tmpfs): the server's data folder, /root, /home, /tmp */
  hide: readonly string[];
  /** folders inside hidden ones shown again read-only: the build runtimes */
  readable: readonly string[];
  limits: SandboxLimits;
  tools: SandboxTools;
}

/** A build's own user: no /etc/passwd entry is needed. */
export interface SandboxId {
  uid: number;
  gid: number;
}

/** One step to run. */
export interface StepInput {
  /** the program and its arguments, e.g. ['/bin/sh', '-c', 'npm ci'] */
  argv: readonly string[];
  /** the step's own folder (checkout, HOME, TMPDIR): the only one it may write */
  work: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** the build's own user (kinds bwrap and uid) */
  id?: SandboxId;
}

/** What to spawn: `file` with `args`, as `uid`/`gid` when set (else as the server). */
export interface StepPlan {
  file: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
}

/** The mode of folders bwrap makes in a hidden tmpfs on the way to a bound one: passable, nothing to list. */
const PATH_DIR_MODE = '0755';

/**
 * The argv (and uid) that runs one step in the sandbox.
 *
 * @example
 *   planStep({ kind: 'uid', hide: [], readable: [], limits: SANDBOX_LIMITS, tools: DEFAULT_TOOLS },
 *     { argv: ['/bin/sh', '-c', 'make'], work: '/w', cwd: '/w/src', env: {}, id: { uid: 61000, gid: 61000 } })
 *   // { file: '/usr/bin/prlimit', args: ['--nproc=1024', '--data=4294967296', '--fsize=4294967296', '--core=0', '--', '/bin/sh', '-c', 'make'],
 *   //   cwd: '/w/src', env: {}, uid: 61000, gid: 61000 }
 * @throws Error when the kind needs an id and none is given, or is container (bugs, not user errors)
 */
export function planStep(policy: SandboxPolicy, step: StepInput): StepPlan {
  const [program, ...rest] = step.argv;
  if (program === undefined) throw new Error('planStep: empty argv');
  if (policy.kind === 'none') return { file: program, args: [...rest], cwd: step.cwd, env: step.env };
  if (policy.kind === 'container') throw new Error('planStep: a container step is not a process (sandbox-container.ts runs it)');

  const switches = policy.kind === 'bwrap' || policy.kind === 'uid';
  if (switches && !step.id) throw new Error(`planStep: a ${policy.kind} sandbox needs the build's uid`);
  // USER and LOGNAME would name the server's user; the build's uid has no name
  const env = switches ? withoutNames(step.env) : step.env;
  const limits = limitArgs(policy.limits, switches);

  if (policy.kind === 'uid') {
    return { file: policy.tools.prlimit, args: [...limits, '--', ...step.argv], cwd: step.cwd, env, uid: step.id!.uid, gid: step.id!.gid };
  }
  const inner =
    policy.kind === 'bwrap'
      ? [
          // bwrap keeps only these capabilities, for setpriv, which drops them with the uid
          '--cap-add',
          'CAP_SETUID',
          '--cap-add',
          'CAP_SETGID',
          '--cap-add',
          'CAP_SETPCAP',
          '--',
          policy.tools.setpriv,
          `--reuid=${step.id!.uid}`,
          `--regid=${step.id!.gid}`,
          '--clear-groups',
          '--inh-caps=-all',
          '--bounding-set=-all',
          '--no-new-privs',
          '--',
        ]
      : ['--'];
  return {
    file: policy.tools.prlimit,
    args: [...limits, '--', policy.tools.bwrap, ...bwrapArgs(policy, step, policy.kind === 'userns'), ...inner, ...step.argv],
    cwd: step.cwd,
    env,
  };
}

/** prlimit's options. RLIMIT_NPROC counts every process of a uid: only meaningful (and harmless) for the build's own. */
function limitArgs(l: SandboxLimits, ownUid: boolean): string[] {
  return [...(ownUid ? [`--nproc=${l.processes}`] : []), `--data=${l.dataBytes}`, `--fsize=${l.fileBytes}`, '--core=0'];
}

/** The namespaces and the file system view of a bwrap sandbox. */
export function bwrapArgs(
  policy: Pick<SandboxPolicy, 'hide' | 'readable'>,
  step: Pick<StepInput, 'work' | 'cwd'>,
  userns: boolean,
): string[] {
  const args = [
    '--die-with-parent',
    '--new-session', // killed with the server; no terminal to inject keystrokes into
    ...(userns ? ['--unshare-user'] : []),
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
  ];
  // a folder inside another hidden one is hidden already (and a tmpfs there would make its parents 0700)
  const roots = policy.hide.filter((h) => !policy.hide.some((o) => o !== h && inside(h, o)));
  for (const h of roots) args.push('--tmpfs', h);
  const made = new Set<string>();
  const shown: [string, string][] = [...policy.readable.map((r): [string, string] => ['--ro-bind-try', r]), ['--bind', step.work]];
  for (const [how, path] of shown) {
    const root = roots.find((h) => inside(path, h));
    // bwrap would make the folders between the tmpfs and the bound one 0700 root: unpassable for the build's uid
    if (root) {
      for (const dir of between(root, path)) {
        if (made.has(dir)) continue;
        made.add(dir);
        args.push('--perms', PATH_DIR_MODE, '--dir', dir);
      }
    }
    args.push(how, path, path);
  }
  args.push('--chdir', step.cwd);
  return args;
}

/** True when `path` is `dir` or below it. */
function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** The folders strictly between `root` and `path`: between('/a', '/a/b/c/d') is ['/a/b', '/a/b/c']. */
function between(root: string, path: string): string[] {
  const parts = path
    .slice(root.length)
    .split('/')
    .filter((p) => p !== '');
  const out: string[] = [];
  let at = root.replace(/\/$/, '');
  for (const p of parts.slice(0, -1)) out.push((at = `${at}/${p}`));
  return out;
}

function withoutNames(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { USER: _user, LOGNAME: _logname, ...rest } = env;
  return rest;
}

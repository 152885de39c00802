import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TOOLS, SANDBOX_LIMITS, bwrapArgs, planStep, type SandboxKind, type SandboxPolicy } from './sandbox.js';

const policy = (kind: SandboxKind, hide = ['/srv/noops', '/root', '/home', '/tmp'], readable = ['/srv/noops/runtimes']): SandboxPolicy => ({
  kind,
  hide,
  readable,
  limits: SANDBOX_LIMITS,
  tools: DEFAULT_TOOLS,
});
const step = {
  argv: ['/bin/sh', '-c', 'npm ci'],
  work: '/srv/noops/builds/7/build-ab12',
  cwd: '/srv/noops/builds/7/build-ab12/src',
  env: { PATH: '/usr/bin:/bin', USER: 'root', LOGNAME: 'root', HOME: '/srv/noops/builds/7/build-ab12/home' },
  id: { uid: 61003, gid: 61003 },
};
const limits = ['--data=4294967296', '--fsize=4294967296', '--core=0'];
const ownEnv = { PATH: '/usr/bin:/bin', HOME: '/srv/noops/builds/7/build-ab12/home' };

test('bwrap (root): namespaces, read-only root, data folder and homes hidden, only the build folder writable, then its own uid without capabilities', () => {
  assert.deepEqual(planStep(policy('bwrap'), step), {
    file: '/usr/bin/prlimit',
    args: [
      '--nproc=1024',
      ...limits,
      '--',
      '/usr/bin/bwrap',
      '--die-with-parent',
      '--new-session',
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
      '--tmpfs',
      '/srv/noops',
      '--tmpfs',
      '/root',
      '--tmpfs',
      '/home',
      '--tmpfs',
      '/tmp',
      '--ro-bind-try',
      '/srv/noops/runtimes',
      '/srv/noops/runtimes',
      '--perms',
      '0755',
      '--dir',
      '/srv/noops/builds',
      '--perms',
      '0755',
      '--dir',
      '/srv/noops/builds/7',
      '--bind',
      '/srv/noops/builds/7/build-ab12',
      '/srv/noops/builds/7/build-ab12',
      '--chdir',
      '/srv/noops/builds/7/build-ab12/src',
      '--cap-add',
      'CAP_SETUID',
      '--cap-add',
      'CAP_SETGID',
      '--cap-add',
      'CAP_SETPCAP',
      '--',
      '/usr/bin/setpriv',
      '--reuid=61003',
      '--regid=61003',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--',
      '/bin/sh',
      '-c',
      'npm ci',
    ],
    cwd: '/srv/noops/builds/7/build-ab12/src',
    env: ownEnv,
  });
});

test("uid (root, no bwrap): the build's own uid and limits, spawned as that uid", () => {
  assert.deepEqual(planStep(policy('uid'), step), {
    file: '/usr/bin/prlimit',
    args: ['--nproc=1024', ...limits, '--', '/bin/sh', '-c', 'npm ci'],
    cwd: step.cwd,
    env: ownEnv,
    uid: 61003,
    gid: 61003,
  });
});

test("userns (not root): bwrap in a user namespace, the server's uid, no process limit (it would count the user's own processes)", () => {
  const plan = planStep(policy('userns'), { ...step, id: undefined });
  assert.deepEqual(plan.args.slice(0, 7), [...limits, '--', '/usr/bin/bwrap', '--die-with-parent', '--new-session']);
  assert.deepEqual(plan.args.slice(7, 9), ['--unshare-user', '--unshare-pid']);
  assert.deepEqual(plan.args.slice(-6), ['--chdir', step.cwd, '--', '/bin/sh', '-c', 'npm ci']);
  assert.equal(plan.args.includes('/usr/bin/setpriv'), false);
  assert.equal(plan.uid, undefined);
  assert.deepEqual(plan.env, step.env);
});

test('none: the command itself, as today', () => {
  assert.deepEqual(planStep(policy('none'), step), { file: '/bin/sh', args: ['-c', 'npm ci'], cwd: step.cwd, env: step.env });
});

test('a kind that switches uid without one is a bug', () => {
  assert.throws(() => planStep(policy('bwrap'), { ...step, id: undefined }), /needs the build's uid/);
});

test('a data folder inside /tmp: one tmpfs, and passable folders from /tmp down to the build', () => {
  const args = bwrapArgs(
    { hide: ['/tmp/noops-x/data', '/tmp'], readable: ['/tmp/noops-x/data/runtimes'] },
    { work: '/tmp/noops-x/data/builds/1/build-q', cwd: '/tmp/noops-x/data/builds/1/build-q/src' },
    false,
  );
  assert.deepEqual(args.slice(args.indexOf('--tmpfs')), [
    '--tmpfs',
    '/tmp',
    '--perms',
    '0755',
    '--dir',
    '/tmp/noops-x',
    '--perms',
    '0755',
    '--dir',
    '/tmp/noops-x/data',
    '--ro-bind-try',
    '/tmp/noops-x/data/runtimes',
    '/tmp/noops-x/data/runtimes',
    '--perms',
    '0755',
    '--dir',
    '/tmp/noops-x/data/builds',
    '--perms',
    '0755',
    '--dir',
    '/tmp/noops-x/data/builds/1',
    '--bind',
    '/tmp/noops-x/data/builds/1/build-q',
    '/tmp/noops-x/data/builds/1/build-q',
    '--chdir',
    '/tmp/noops-x/data/builds/1/build-q/src',
  ]);
});

/**
 * Repository credentials: the pure parts with exact equality, then real clones from a local HTTP
 * git server (git http-backend behind a Node server that requires basic auth).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clone, credentialEnv, gitEnv, parseCredential, redactValues, splitRepoCredential } from './git.js';

test('a password in an https URL is split off; the URL keeps its user', () => {
  assert.deepEqual(splitRepoCredential('https://bob:s3cr%40t@git.example.com/x.git'), {
    repo: 'https://bob@git.example.com/x.git',
    credential: { username: 'bob', password: 's3cr@t' },
  });
  assert.deepEqual(splitRepoCredential('https://bob@git.example.com/x.git'), {
    repo: 'https://bob@git.example.com/x.git',
    credential: null,
  });
  assert.deepEqual(splitRepoCredential('/srv/git/x.git'), { repo: '/srv/git/x.git', credential: null });
  assert.deepEqual(splitRepoCredential('git@github.com:acme/x.git'), { repo: 'git@github.com:acme/x.git', credential: null });
  assert.throws(() => splitRepoCredential('ssh://bob:pw@h/x.git'), {
    code: 'NOOPS_E_GIT_URL',
    message: 'a password in a ssh URL (ssh://bob@h/x.git) is not used by git',
  });
});

test("a secret is user:password, or a token sent with the URL's user or x-access-token", () => {
  assert.deepEqual(parseCredential('bob:pa:ss', 'https://h/x'), { username: 'bob', password: 'pa:ss' });
  assert.deepEqual(parseCredential('ghp_abc', 'https://h/x'), { username: 'x-access-token', password: 'ghp_abc' });
  assert.deepEqual(parseCredential('glpat-1', 'https://oauth2@h/x'), { username: 'oauth2', password: 'glpat-1' });
});

test("git gets the credential as a header for the repository's origin only, through its environment", () => {
  assert.deepEqual(credentialEnv('https://bob@h:8443/team/x.git', { username: 'u', password: 'p' }), {
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'http.https://h:8443/.extraHeader',
    GIT_CONFIG_VALUE_0: 'Authorization: Basic dTpw',
    GIT_CONFIG_KEY_1: 'credential.helper',
    GIT_CONFIG_VALUE_1: '',
  });
  assert.throws(() => credentialEnv('git@h:x.git', { username: 'u', password: 'p' }), { code: 'NOOPS_E_GIT_URL' });
  // config the server's own environment passes through GIT_CONFIG_* is dropped
  assert.deepEqual(gitEnv({ PATH: '/bin', GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.sshCommand', GIT_CONFIG_VALUE_0: 'x' }), {
    PATH: '/bin',
    GIT_TERMINAL_PROMPT: '0',
  });
});

test('messages lose passwords, in URLs and alone', () => {
  assert.equal(redactValues("fatal: 'https://bob:hunter22@h/x' said hunter22", ['hunter22']), "fatal: 'https://bob@h/x' said ***");
});

// ---- a real HTTP git server that requires basic auth

const USER = 'deployer';
const PASSWORD = 'pa55-Wq9z-real';
let base: string;
let server: Server;
let url: string;
const seen: { url: string; authorization: string | undefined }[] = [];

/** `git http-backend` as a CGI behind Node's server, for requests that carry the right basic auth. */
function handle(req: IncomingMessage, res: import('node:http').ServerResponse): void {
  seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
  if (req.headers.authorization !== `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`) {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end('unauthorized\n');
    return;
  }
  const u = new URL(req.url ?? '/', 'http://x');
  const cgi = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: join(base, 'served'),
      GIT_HTTP_EXPORT_ALL: '1',
      REMOTE_USER: USER,
      REQUEST_METHOD: req.method,
      PATH_INFO: decodeURIComponent(u.pathname),
      QUERY_STRING: u.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
      GIT_HTTP_MAX_REQUEST_BUFFER: '100M',
    },
  });
  req.pipe(cgi.stdin);
  const chunks: Buffer[] = [];
  cgi.stdout.on('data', (b: Buffer) => chunks.push(b));
  cgi.on('close', () => {
    const out = Buffer.concat(chunks);
    const end = out.indexOf('\r\n\r\n');
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of out.subarray(0, end).toString().split('\r\n')) {
      const [k, ...v] = line.split(':');
      if (k!.toLowerCase() === 'status') status = Number(v.join(':').trim().split(' ')[0]);
      else headers[k!] = v.join(':').trim();
    }
    res.writeHead(status, headers).end(out.subarray(end + 4));
  });
}

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'noops-gitcred-'));
  const work = join(base, 'work');
  mkdirSync(work);
  const g = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.email=d@e', '-c', 'user.name=d', '-c', 'init.defaultBranch=main', ...args], { cwd: work });
  g('init', '-q');
  writeFileSync(join(work, 'README'), 'hello\n');
  g('add', '-A');
  g('commit', '-qm', 'one');
  mkdirSync(join(base, 'served'));
  execFileSync('git', ['clone', '-q', '--bare', work, join(base, 'served', 'repo.git')]);
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/repo.git`;
});

after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(base, { recursive: true, force: true });
});

async function tryClone(
  repo: string,
  credential?: { username: string; password: string },
): Promise<{ dir: string; log: string; error?: Error }> {
  const dir = join(base, `c${seen.length}-${Math.random().toString(36).slice(2)}`);
  let log = '';
  try {
    await clone(repo, dir, {
      deadline: Date.now() + 30_000,
      log: (t) => {
        log += t;
      },
      credential,
    });
    return { dir, log };
  } catch (error) {
    return { dir, log, error: error as Error };
  }
}

test('a credential clones from a server that requires basic auth; the URL, log and .git/config hold no password', async () => {
  seen.length = 0;
  const r = await tryClone(url, { username: USER, password: PASSWORD });
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.log.includes(PASSWORD), false);
  assert.equal(readFileSync(join(r.dir, '.git', 'config'), 'utf8').includes(PASSWORD), false);
  assert.ok(seen.length > 0 && seen.every((s) => !s.url.includes(PASSWORD)));
});

test("a password in the URL is used the same way: never in git's argv, its config, or a credential helper's store", async () => {
  const home = join(base, 'home');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, '.gitconfig'), '[credential]\n\thelper = store\n');
  const saved = { HOME: process.env.HOME, GIT_CONFIG_GLOBAL: process.env.GIT_CONFIG_GLOBAL };
  process.env.HOME = home;
  process.env.GIT_CONFIG_GLOBAL = join(home, '.gitconfig');
  try {
    const withPassword = url.replace('http://', `http://${USER}:${PASSWORD}@`);
    const r = await tryClone(withPassword);
    assert.equal(r.error, undefined, r.error?.message);
    assert.match(r.log, new RegExp(`git clone --no-checkout -- http://${USER}@127\\.0\\.0\\.1:\\d+/repo\\.git`));
    assert.equal(r.log.includes(PASSWORD), false);
    assert.equal(readFileSync(join(r.dir, '.git', 'config'), 'utf8').includes(PASSWORD), false);
    assert.equal(existsSync(join(home, '.git-credentials')), false, 'a credential helper stored the password');
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
});

test('a wrong password or none fails without a prompt, and the message shows no password', async () => {
  const wrong = await tryClone(url, { username: USER, password: 'wrong-pass-123' });
  assert.equal((wrong.error as Error & { code?: string })?.code, 'NOOPS_E_GIT_CLONE');
  assert.equal(wrong.error!.message.includes('wrong-pass-123'), false);
  const none = await tryClone(url);
  assert.equal((none.error as Error & { code?: string })?.code, 'NOOPS_E_GIT_CLONE');
});

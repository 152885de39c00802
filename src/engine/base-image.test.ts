/**
 * noops' base image from the host's own files, on the real engine: a shell, the loader and the
 * libraries of the agent's node, passwd and group; named by its content hash, labelled, verified,
 * and built once (asking again finds it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_LABEL, BASE_REPO, baseImageEntries, ensureBaseImage, entriesHash, sharedLibraries } from './base-image.js';
import { connectEngine } from './engine.js';

test("the base image's files: a shell, node's libraries and loader, passwd and group; the hash is stable", () => {
  const entries = baseImageEntries();
  const paths = entries.map((e) => e.path);
  assert.ok(paths.includes('/bin/sh'), 'a shell');
  for (const lib of sharedLibraries(process.execPath)) assert.ok(paths.includes(lib), `${lib} (node needs it)`);
  assert.ok(paths.includes('/etc/passwd') && paths.includes('/etc/group'));
  assert.equal(entriesHash(entries), entriesHash(baseImageEntries()), 'the same files, the same hash');
});

test('the base image is built once, labelled with its hash, and verified', async () => {
  const docker = await connectEngine();
  const logged: string[] = [];
  const name = await ensureBaseImage(docker, (l) => logged.push(l));
  const hash = entriesHash(baseImageEntries());
  assert.equal(name, `${BASE_REPO}:${hash.slice(0, 12)}`);
  const labels = (await docker.getImage(name).inspect()).Config.Labels;
  assert.equal(labels[BASE_LABEL], hash);
  assert.equal(labels['noops.owned'], '1');
  const again: string[] = [];
  assert.equal(await ensureBaseImage(docker, (l) => again.push(l)), name);
  assert.deepEqual(again, [], 'not built again');
});

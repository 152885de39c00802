/** Reads what stack detection looks at from the root of a checkout: manifests, and which stack files exist. */
import type { Stats } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NoopsError } from '../errors/index.js';
import { parseNoopsYaml } from '../release/noops-yaml.js';
import type { DetectInput } from './detect.js';

/** A manifest is a page of text; a bigger file is a mistake, and is not read into memory. */
export const MAX_SOURCE_BYTES = 1024 * 1024;

/**
 * Reads noops.yaml, the Procfile and package.json (whichever exist) from `dir`, and notes
 * build.sh (and whether it is executable), pom.xml (and src/test), go.mod and index.html.
 *
 * @throws NoopsError NOOPS_E_MANIFEST for a file that does not parse, is not a regular file, or is too big
 */
export async function readDetectInput(dir: string): Promise<DetectInput> {
  const yamlText = await readSource(dir, 'noops.yaml');
  // a manifest that would be silently ignored is worse than an error
  if (yamlText === undefined && (await exists(join(dir, 'noops.yml')))) {
    throw new NoopsError('NOOPS_E_MANIFEST', 'the manifest is named noops.yml; noops reads noops.yaml', {
      hint: 'rename noops.yml to noops.yaml',
    });
  }
  const procfile = await readSource(dir, 'Procfile');
  const pkgText = await readSource(dir, 'package.json');
  let packageJson: unknown;
  if (pkgText !== undefined) {
    try {
      packageJson = JSON.parse(pkgText);
    } catch (err) {
      throw new NoopsError('NOOPS_E_MANIFEST', `package.json: not valid JSON: ${(err as Error).message}`, {
        cause: err,
        hint: 'fix package.json',
      });
    }
  }
  const hasLock = (await exists(join(dir, 'package-lock.json'))) || (await exists(join(dir, 'npm-shrinkwrap.json')));
  const buildSh = await fileInfo(dir, 'build.sh');
  return {
    ...(procfile !== undefined && { procfile }),
    ...(packageJson !== undefined && { packageJson }),
    hasLock,
    ...(buildSh && { buildSh: { executable: (buildSh.mode & 0o111) !== 0 } }),
    ...((await fileInfo(dir, 'pom.xml')) && { maven: { tests: await exists(join(dir, 'src', 'test')) } }),
    ...((await fileInfo(dir, 'go.mod')) && { goMod: true }),
    ...((await fileInfo(dir, 'index.html')) && { indexHtml: true }),
    ...(yamlText !== undefined && { noopsYaml: parseNoopsYaml(yamlText, 'noops.yaml') }),
  };
}

/** A file's text, or undefined when it does not exist. Symlinks are refused: they could point anywhere on the build server. */
async function readSource(dir: string, name: string): Promise<string | undefined> {
  const path = join(dir, name);
  let info: Stats;
  try {
    info = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!info.isFile())
    throw new NoopsError('NOOPS_E_MANIFEST', `${name} is not a regular file (a symlink or a folder)`, {
      hint: `make ${name} a plain file`,
    });
  if (info.size > MAX_SOURCE_BYTES)
    throw new NoopsError('NOOPS_E_MANIFEST', `${name} is ${info.size} bytes; at most ${MAX_SOURCE_BYTES} are read`);
  return readFile(path, 'utf8');
}

/** A regular file's mode, or undefined when it is missing. A symlink or folder is an error: it could point anywhere. */
async function fileInfo(dir: string, name: string): Promise<{ mode: number } | undefined> {
  let info: Stats;
  try {
    info = await lstat(join(dir, name));
  } catch {
    return undefined;
  }
  if (!info.isFile())
    throw new NoopsError('NOOPS_E_MANIFEST', `${name} is not a regular file (a symlink or a folder)`, {
      hint: `make ${name} a plain file`,
    });
  return { mode: info.mode };
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

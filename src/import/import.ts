/**
 * Importing a package built elsewhere as a release: the bytes (an upload or a URL's) go to the
 * artifact store only if they follow the package spec and name the job; the release's version
 * comes from its manifest, its sha256 from its bytes. A release is immutable: the same version
 * with other bytes is refused.
 */
import type { Readable } from 'node:stream';
import type { ArtifactStore } from '../artifacts/index.js';
import { NoopsError } from '../errors/index.js';
import { inspectPackage } from '../release/package.js';
import type { PackageReport } from '../release/index.js';
import type { ReleaseRow, Store } from '../store/index.js';
import { MAX_IMPORT_BYTES, openUrl, type Fetcher } from './fetch.js';

export interface ImportDeps {
  store: Store;
  artifacts: ArtifactStore;
  fetcher?: Fetcher;
  /** largest package taken (default MAX_IMPORT_BYTES) */
  maxBytes?: number;
  /**
   * Signs a release before it is recorded (issue 12, "signed releases": the server signs each
   * release's manifest and sha256 with its key, an imported one as a built one): it sets the
   * row's `signature`. The server passes it (`importDeps` in server/context.ts).
   */
  sign?: (release: ReleaseRow) => Promise<void>;
}

export interface ImportRequest {
  /** the canonical job tag; the package's manifest must name it */
  job: string;
  /** an http(s) URL to fetch, or the package's bytes with a name for the messages */
  source: { url: string } | { body: Readable; name: string };
  /** who imports (the audit entry's actor) */
  actor: string;
}

export interface Imported {
  release: ReleaseRow;
  /** false when this very package was the release already (an import is idempotent) */
  created: boolean;
}

/**
 * Imports a package as a release of `req.job` and writes `release.import` to the audit log with it.
 *
 * @example await importRelease({ store, artifacts }, { job, source: { url: 'https://ci.example.com/api.tar.gz' }, actor: 'alice' })
 * @throws NoopsError NOOPS_E_PACKAGE_INVALID / NOOPS_E_PACKAGE_UNSAFE (the spec's), NOOPS_E_PACKAGE_FETCH,
 *   NOOPS_E_RELEASE_EXISTS (the version is a release with another sha256), NOOPS_E_INPUT (too big)
 */
export async function importRelease(deps: ImportDeps, req: ImportRequest): Promise<Imported> {
  const from = 'url' in req.source ? req.source.url : req.source.name;
  const body = 'url' in req.source ? await openUrl(req.source.url, { fetcher: deps.fetcher, maxBytes: deps.maxBytes }) : req.source.body;
  let report: PackageReport | undefined;
  let existing: ReleaseRow | undefined;
  // Checked before it is stored: a package the spec refuses never enters the artifact store.
  const stored = await deps.artifacts
    .putStream(body, {
      maxBytes: deps.maxBytes ?? MAX_IMPORT_BYTES,
      check: async (tmp, sha256) => {
        report = await inspectPackage(tmp);
        const { manifest } = report;
        if (manifest.job !== req.job) {
          throw new NoopsError(
            'NOOPS_E_PACKAGE_INVALID',
            `${from} was built for ${manifest.job}, not ${req.job} (its manifest.json's job)`,
          );
        }
        existing = await deps.store.getRelease(req.job, manifest.version);
        if (existing && existing.sha256 !== sha256) {
          throw new NoopsError(
            'NOOPS_E_RELEASE_EXISTS',
            `${req.job} has a release ${manifest.version} already, with another package (sha256 ${existing.sha256}, not ${sha256})`,
          );
        }
      },
    })
    .catch((err: unknown) => {
      if (err instanceof NoopsError) throw err;
      // a URL's body that breaks off midway, say
      throw new NoopsError('NOOPS_E_PACKAGE_FETCH', `cannot read the package from ${from}: ${(err as Error).message}`, { cause: err });
    });
  if (existing) return { release: existing, created: false };
  const { manifest } = report!;
  const release: ReleaseRow = {
    job: req.job,
    version: manifest.version,
    commit: manifest.commit,
    // where it came from: the URL (a pkg_url finds its release by it), or the repository its manifest names
    repo: 'url' in req.source ? req.source.url : manifest.repo,
    sha256: stored.sha256,
    size: stored.size,
    manifest: manifest as unknown as Record<string, unknown>,
    buildId: null,
    createdAt: new Date().toISOString(),
  };
  await deps.sign?.(release);
  await deps.store.tx(async (s) => {
    await s.putRelease(release);
    await s.audit({
      at: release.createdAt,
      actor: req.actor,
      action: 'release.import',
      target: req.job,
      detail: { version: release.version, sha256: release.sha256, size: release.size, from },
    });
  });
  return { release, created: true };
}

/**
 * The release a `pkg_url` names: the one imported from that URL before, else imported now.
 * A URL names one package: a new package goes under a new URL (its version is its manifest's).
 */
export async function releaseOfUrl(deps: ImportDeps, job: string, url: string, actor: string): Promise<ReleaseRow> {
  const known = (await deps.store.listReleases(job)).find((r) => r.buildId === null && r.repo === url);
  if (known) return known;
  return (await importRelease(deps, { job, source: { url }, actor })).release;
}

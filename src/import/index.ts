/** Releases from packages built elsewhere: `noops release import FILE|URL` and a cluster.conf's `pkg_url` (docs/import.md). */
export { importRelease, releaseOfUrl, type ImportDeps, type ImportRequest, type Imported } from './import.js';
export { checkUrl, openUrl, FETCH_TIMEOUT_MS, MAX_IMPORT_BYTES, type Fetcher } from './fetch.js';

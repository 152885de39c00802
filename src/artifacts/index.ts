/**
 * Content-addressed storage of packages by sha256, and the safe way to take one apart: verify
 * by sha256, check every entry, then extract (shared by the agent, the build and the server).
 */
export { ArtifactStore, type PutOptions, type StoredArtifact } from './store.js';
export { MemorySharedArtifacts, type SharedArtifact, type SharedArtifacts } from './shared.js';
export { assertSha256, isSha256, sha256File } from './sha256.js';
export { checkEntries, type TarEntry } from './entries.js';
// unpacking (tar) is the named entry `artifacts/extract.ts`.
export { checkUnpackedSize, PACKAGE_MAX_FILES, PACKAGE_MAX_UNPACKED_BYTES, unpackLimits, type UnpackLimits } from './unpack-limits.js';
export { ensureVerified, type Download } from './verified-cache.js';

/** Content-addressed storage of release packages, by sha256. */
export { ArtifactStore, type StoredArtifact } from './store.js';
export { assertSha256, isSha256, sha256File } from './sha256.js';

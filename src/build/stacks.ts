/**
 * The commands and defaults of each stack the standard build framework knows. Detection
 * (detect.ts) decides which apply; this file says what each one means.
 */
import { ANY_VERSION } from '../runtimes/index.js';

/** Installs exactly the lockfile's tree; no audit or funding requests (quiet, works offline). */
export const NPM_CI = 'npm ci --no-audit --no-fund';
/** Without a lockfile, npm install resolves the tree (and writes a lockfile into the package). */
export const NPM_INSTALL = 'npm install --no-audit --no-fund';
/** Run when package.json has a `build` script. */
export const NPM_BUILD = 'npm run build';
/** The `web` process of a package.json with a `start` script and no Procfile. */
export const NPM_START = 'npm start';

/** A repository's own build script at its root, run as it is when executable (its shebang decides). */
export const BUILD_SH = 'build.sh';
export const BUILD_SH_EXEC = './build.sh';
/** A build.sh without the executable bit is run by sh, as `sh build.sh` would. */
export const BUILD_SH_SH = 'sh ./build.sh';

/**
 * Maven: `package` without the tests, which run next as the test step (only when `src/test`
 * exists: `mvn test` on a project without tests would still resolve the test plugins). `-B`:
 * batch mode, no colours or prompts.
 */
export const MVN_PACKAGE = 'mvn -B -DskipTests package';
export const MVN_TEST = 'mvn -B test';
/**
 * The `web` process of a Maven project: the jar `package` made. A project that makes more than
 * one jar names its processes in a Procfile.
 */
export const MVN_WEB = 'java -jar target/*.jar';

/** Go: one static binary at the root of the release, without build paths in it. */
export const GO_BUILD = 'go build -trimpath -o app .';
export const GO_WEB = './app';

/** A static site is served by this small file server, written into the package by the build. */
export const STATIC_SERVER_FILE = '.noops/static-server.mjs';
/**
 * The `web` process of a static site. The agent passes NOOPS_NODE (the Node.js it runs on), so
 * a host without `node` on its PATH serves it too; a `node` runtime in noops.yaml comes first on PATH.
 */
export const STATIC_WEB = `"\${NOOPS_NODE:-node}" ${STATIC_SERVER_FILE}`;

/** The runtimes each stack needs when noops.yaml names no version: the newest known one. */
export const STACK_RUNTIMES = {
  /** the JDK builds and runs the jar */
  maven: { run: { jdk: ANY_VERSION }, build: { maven: ANY_VERSION } },
  /** Go builds a static binary: the toolchain is needed only at build time */
  go: { run: {}, build: { go: ANY_VERSION } },
} as const;

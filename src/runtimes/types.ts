/**
 * The vocabulary of runtimes: what a runtime exports to a process, and the reference to one
 * version of one runtime that a host (or a build) needs to install it.
 */

/**
 * What a runtime gives a process that names it. Paths are relative to the runtime's folder;
 * in `env` values, `{dir}` stands for that folder on the host.
 *
 * @example { path: ['bin'], env: { NODE_HOME: '{dir}' } }
 */
export interface RuntimeExports {
  /** folders put first on PATH, in this order */
  path: string[];
  /** more variables: `JAVA_HOME: '{dir}'`, `MAVEN_OPTS: '-Xmx512m'` */
  env: Record<string, string>;
}

/** One version of one runtime, as a host (or a build) receives it to install. */
export interface RuntimeRef {
  name: string;
  version: string;
  /** of the tarball in the artifact store */
  sha256: string;
  /** where to download the tarball: a path under the API prefix */
  url: string;
  exports: RuntimeExports;
  /** `os/arch` as Node.js names them (`linux/x64`), or `any` */
  platform: string;
}

/** What a host tells the server about runtimes, in every report. */
export interface HostRuntimeReport {
  /** `os/arch` of the host, as Node.js names them */
  platform: string;
  /** false when the agent cannot install runtimes (its runtimes folder is not writable, ...) */
  canInstall: boolean;
  /** why not, when canInstall is false */
  reason: string | null;
  /** `name@version` of every runtime installed on the host */
  installed: string[];
}

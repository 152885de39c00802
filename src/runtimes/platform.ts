/**
 * Platforms: which operating system and CPU a runtime's binaries are for, read from the ELF
 * header of its programs, and whether a host can run them.
 */
import { NoopsError } from '../errors/index.js';

/** A runtime with no native program (scripts, jars) runs anywhere. */
export const ANY_PLATFORM = 'any';

/** The host labels that carry the platform; agents set them when they join. */
export const OS_LABEL = 'os';
export const ARCH_LABEL = 'arch';

/** `os/arch` in Node.js's words (`linux/x64`, `linux/arm64`). */
const PLATFORM_RE = /^[a-z0-9]+\/[a-z0-9]+$/;

/** ELF e_machine values of the CPUs Node.js runs on, by Node.js's name for them. */
const ELF_MACHINES: Record<number, string> = {
  3: 'ia32',
  8: 'mips',
  20: 'ppc',
  21: 'ppc64',
  22: 's390x',
  40: 'arm',
  62: 'x64',
  183: 'arm64',
  243: 'riscv64',
  258: 'loong64',
};
/** ELF EI_OSABI values: most Linux binaries say SYSV (0); FreeBSD's say so. */
const ELF_OSABI: Record<number, string> = { 0: 'linux', 3: 'linux', 9: 'freebsd' };

/** The platform of this machine, e.g. `linux/x64`. */
export function hostPlatform(): string {
  return `${process.platform}/${process.arch}`;
}

/**
 * Checks a platform given by a person: `any` or `os/arch`.
 *
 * @throws NoopsError NOOPS_E_INPUT
 */
export function checkPlatform(value: string): string {
  if (value === ANY_PLATFORM || PLATFORM_RE.test(value)) return value;
  throw new NoopsError('NOOPS_E_INPUT', `platform "${value}" is not "any" or os/arch as Node.js names them (e.g. linux/x64, linux/arm64)`);
}

/**
 * The platform an ELF program is for, from the first 20 bytes of the file; null when the bytes
 * are not an ELF header (a script, a jar) or name a CPU we do not know.
 *
 * @example elfPlatform(readFirstBytes('bin/node')) // 'linux/x64'
 */
export function elfPlatform(header: Uint8Array): string | null {
  if (header.length < 20 || header[0] !== 0x7f || header[1] !== 0x45 || header[2] !== 0x4c || header[3] !== 0x46) return null;
  const littleEndian = header[5] === 1;
  const machine = littleEndian ? header[18]! | (header[19]! << 8) : (header[18]! << 8) | header[19]!;
  const os = ELF_OSABI[header[7]!];
  const arch = ELF_MACHINES[machine];
  return os && arch ? `${os}/${arch}` : null;
}

/**
 * Why a host cannot run a runtime built for `platform`, or null when it can. A host says its
 * platform in its labels `os` and `arch` (the agent sets them).
 *
 * @example platformProblem('linux/arm64', { os: 'linux', arch: 'x64' }) // 'it is for linux/arm64 and the host is linux/x64'
 */
export function platformProblem(platform: string, labels: Record<string, string>): string | null {
  if (platform === ANY_PLATFORM) return null;
  const os = labels[OS_LABEL];
  const arch = labels[ARCH_LABEL];
  if (!os || !arch)
    return `it is for ${platform} and the host does not say its platform (labels ${OS_LABEL} and ${ARCH_LABEL}; an agent of this version sets them when it joins)`;
  const host = `${os}/${arch}`;
  return host === platform ? null : `it is for ${platform} and the host is ${host}`;
}

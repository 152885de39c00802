/** Turns zod issues into `path: message` lines that name the key a person has to fix. */
import type { z } from 'zod';

/** One problem: where (a key path, e.g. `['processes', 'web', 'port']`) and what. */
export interface Problem {
  path: PropertyKey[];
  /** true when the problem is the key itself (unknown key, bad name), not its value */
  atKey: boolean;
  message: string;
}

/** Flattens zod issues into problems, one per unknown key. */
export function problemsOf(error: z.ZodError): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...issue.path, key], atKey: true, message: 'unknown key' });
    } else if (issue.code === 'invalid_key') {
      // the message of the key's own check says what a valid key looks like
      out.push({ path: issue.path, atKey: true, message: issue.issues[0]?.message ?? issue.message });
    } else {
      out.push({ path: issue.path, atKey: false, message: issue.message });
    }
  }
  return out;
}

/**
 * Formats a key path: `processes.web.port`, `processes[0].port`.
 *
 * @example formatPath(['processes', 0, 'port']) // 'processes[0].port'
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

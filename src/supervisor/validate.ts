/** Checks a WatchSpec before anything is spawned, so a bad spec fails at `start`, not later. */
import { NoopsError } from '../errors/index.js';
import { normalizeSignal } from './proc.js';
import type { WatchSpec } from './types.js';

/** A log name becomes part of a file name: one plain path segment. */
const LOG_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * Validates `spec` and returns its stop signal, normalized (`TERM` -> `SIGTERM`).
 * Throws NOOPS_E_INPUT naming the bad field.
 */
export function checkSpec(spec: WatchSpec): NodeJS.Signals {
  const bad = (field: string, why: string): never => {
    throw new NoopsError('NOOPS_E_INPUT', `process spec "${String(spec.id)}": ${field} ${why}`);
  };
  for (const field of ['id', 'command', 'cwd', 'logDir'] as const) {
    if (typeof spec[field] !== 'string' || spec[field] === '') bad(field, 'must be a non-empty string');
  }
  if (typeof spec.logName !== 'string' || !LOG_NAME.test(spec.logName)) {
    bad('logName', `must be letters, digits, ".", "_" and "-" (got ${JSON.stringify(spec.logName)})`);
  }
  if (spec.env === null || typeof spec.env !== 'object') bad('env', 'must be an object');
  for (const [key, value] of Object.entries(spec.env)) {
    if (typeof value !== 'string') bad(`env.${key}`, 'must be a string');
  }
  for (const field of ['stopTimeoutMs', 'startGraceMs'] as const) {
    if (!Number.isFinite(spec[field]) || spec[field] < 0) bad(field, 'must be a number of ms >= 0');
  }
  const signal = normalizeSignal(String(spec.stopSignal));
  if (signal === null) bad('stopSignal', `is not a signal (got ${JSON.stringify(spec.stopSignal)})`);
  return signal as NodeJS.Signals;
}

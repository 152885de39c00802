/** Checks a WatchSpec before anything is spawned, so a bad spec fails at `start`, not later. */
import { NoopsError } from '../errors/index.js';
import { normalizeSignal } from './proc.js';
import { CONDITION_KINDS } from './conditions.js';
import { RESTART_POLICIES, type WatchSpec } from './types.js';

/** A log name becomes part of a file name: one plain path segment (`@`: a replica's, web@2). */
const LOG_NAME = /^[A-Za-z0-9_][A-Za-z0-9._@-]*$/;

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
    bad('logName', `must be letters, digits, ".", "_", "@" and "-" (got ${JSON.stringify(spec.logName)})`);
  }
  if (spec.env === null || typeof spec.env !== 'object') bad('env', 'must be an object');
  for (const [key, value] of Object.entries(spec.env)) {
    if (typeof value !== 'string') bad(`env.${key}`, 'must be a string');
  }
  for (const field of ['stopTimeoutMs', 'startGraceMs'] as const) {
    if (!Number.isFinite(spec[field]) || spec[field] < 0) bad(field, 'must be a number of ms >= 0');
  }
  if (spec.restart !== undefined && !RESTART_POLICIES.includes(spec.restart))
    bad('restart', `must be one of ${RESTART_POLICIES.join(', ')}`);
  if (spec.flapping) {
    for (const [k, v] of Object.entries(spec.flapping)) if (!Number.isFinite(v) || v < 0) bad(`flapping.${k}`, 'must be a number >= 0');
    if (spec.flapping.times < 1) bad('flapping.times', 'must be at least 1');
  }
  if (spec.logs !== undefined && !(spec.logs.maxBytes >= 0 && Number.isInteger(spec.logs.keep) && spec.logs.keep >= 0)) {
    bad('logs', 'needs maxBytes >= 0 and a whole number keep >= 0');
  }
  for (const [i, c] of (spec.conditions ?? []).entries()) {
    if (!CONDITION_KINDS.includes(c.kind)) bad(`conditions[${i}].kind`, `must be one of ${CONDITION_KINDS.join(', ')}`);
    if (!(c.intervalMs > 0)) bad(`conditions[${i}].intervalMs`, 'must be a number of ms > 0');
    if (!(Number.isInteger(c.times) && Number.isInteger(c.of) && c.times >= 1 && c.of >= c.times)) {
      bad(`conditions[${i}].times`, 'must be N of M with 1 <= N <= M');
    }
  }
  if (spec.stopCommand !== undefined && (typeof spec.stopCommand !== 'string' || spec.stopCommand === ''))
    bad('stopCommand', 'must be a non-empty string');
  const signal = normalizeSignal(String(spec.stopSignal));
  if (signal === null) bad('stopSignal', `is not a signal (got ${JSON.stringify(spec.stopSignal)})`);
  return signal as NodeJS.Signals;
}

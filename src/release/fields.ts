/**
 * The zod field schemas that noops.yaml and manifest.json share, so that a value that is valid
 * in one is valid in the other.
 */
import { z } from 'zod';
import { ENV_NAME_RE, PROCESS_NAME_RE, RUNTIME_NAME_RE, RUNTIME_VERSION_RE, SECRET_NAME_RE, STOP_SIGNALS } from './patterns.js';

export { ENV_NAME_RE, PROCESS_NAME_RE, RUNTIME_NAME_RE, RUNTIME_VERSION_RE, SECRET_NAME_RE, STOP_SIGNALS } from './patterns.js';

/** A process name (see {@link PROCESS_NAME_RE}). */
export const processName = z
  .string()
  .regex(PROCESS_NAME_RE, 'a process name is lower-case letters, digits, "-" and "_" (at most 63), starting with a letter or digit');

/**
 * A map of environment variables. Values must be strings: YAML would turn `1.10` into the
 * number 1.1 and `0755` into 755, so numbers are refused rather than silently changed.
 */
export const envMap = z.record(
  z.string().regex(ENV_NAME_RE, 'an environment variable name is letters, digits and "_", not starting with a digit'),
  z.string({ error: 'expected a string (quote numbers and booleans, e.g. "8080")' }),
);

const envName = z.string().regex(ENV_NAME_RE, 'an environment variable name is letters, digits and "_", not starting with a digit');

/** A secret's name (see {@link SECRET_NAME_RE}). */
export const secretName = z
  .string({ error: "expected a secret's name" })
  .regex(SECRET_NAME_RE, 'a secret\'s name is letters, digits, "_", "." and "-", starting with a letter (at most 128)');

/**
 * manifest.json's `secretEnv`: environment variables whose values are secrets, by the secret's
 * name (`{ DB_PASSWORD: "shop-db" }`). The server resolves each name at deploy time; the value
 * itself is never in a manifest.
 */
export const secretEnvMap = z.record(envName, secretName);

/**
 * noops.yaml's `env`: a value is a string, or `{ secret: NAME }` for a secret the server keeps
 * (`noops secret set NAME --scope TAG`). `splitEnv` parts them into a manifest's `env` and `secretEnv`.
 */
export const yamlEnvMap = z.record(
  envName,
  z.union([z.string(), z.strictObject({ secret: secretName })], {
    error: 'expected a string (quote numbers and booleans, e.g. "8080") or { secret: NAME }',
  }),
);

/**
 * Parts a noops.yaml `env` into plain values and secret references.
 *
 * @example splitEnv({ A: '1', B: { secret: 'db' } }) // { env: { A: '1' }, secretEnv: { B: 'db' } }
 */
export function splitEnv(env: Record<string, string | { secret: string }> | undefined): {
  env: Record<string, string>;
  secretEnv: Record<string, string>;
} {
  const out = { env: {} as Record<string, string>, secretEnv: {} as Record<string, string> };
  for (const [k, v] of Object.entries(env ?? {})) {
    if (typeof v === 'string') out.env[k] = v;
    else out.secretEnv[k] = v.secret;
  }
  return out;
}

/** A port: a fixed number, 'auto' (the agent picks one and passes PORT) or null (none). */
const PORT_RANGE = 'expected a port number from 1 to 65535';
export const port = z.union([z.number().int(PORT_RANGE).min(1, PORT_RANGE).max(65535, PORT_RANGE), z.literal('auto'), z.null()], {
  error: 'expected a number, "auto" or null',
});

/** A stop signal, written `SIGTERM` (see {@link STOP_SIGNALS}). */
export const stopSignal = z.enum(STOP_SIGNALS, { error: `expected one of ${STOP_SIGNALS.join(', ')}` });

/** A duration in seconds (fractions allowed). */
export const seconds = z
  .number({ error: 'expected a number of seconds' })
  .min(0, 'expected a number of seconds, 0 or more')
  .max(86_400, 'expected at most 86400 seconds (a day)');

/** A duration in noops.yaml: seconds as a number, or `20s`, `500ms`, `2m`; seconds once parsed, at most a day. */
export const durationSeconds = z
  .union([z.number(), z.string()], { error: 'expected a duration, e.g. 20s, 500ms, 2m or a number of seconds' })
  .transform((raw, ctx) => {
    const m = typeof raw === 'number' ? null : /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(raw.trim());
    const value = typeof raw === 'number' ? raw : m ? Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'm' ? 60 : 1) : Number.NaN;
    if (!Number.isFinite(value) || value < 0 || value > 86_400) {
      ctx.addIssue({ code: 'custom', message: `"${String(raw)}" is not a duration of at most a day (e.g. 20s, 500ms, 2m)` });
      return z.NEVER;
    }
    return value;
  });

/** A runtime name (see {@link RUNTIME_NAME_RE}). */
export const runtimeName = z
  .string()
  .regex(RUNTIME_NAME_RE, 'a runtime name is lower-case letters, digits, ".", "-" and "_" (at most 63), starting with a letter or digit');

/** An exact runtime version (see {@link RUNTIME_VERSION_RE}), as a release manifest records it. */
export const runtimeVersion = z
  .string({ error: 'expected a version string, e.g. "18.20.4"' })
  .regex(
    RUNTIME_VERSION_RE,
    'a runtime version is letters, digits, ".", "_", "+" and "-", starting with a letter or digit, e.g. "18.20.4"',
  );

/**
 * A version as a person writes it in noops.yaml: `"18.20.4"`, or a prefix (`"18"`, `18`) that
 * the build resolves to the newest known version under it. Whole numbers are taken as text;
 * other numbers are refused, since YAML reads `18.10` as the number 18.1.
 */
export const runtimeVersionInput = z.preprocess(
  (value) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : value),
  z
    .string({ error: 'expected a version string: quote it, e.g. node: "18.20.4" (YAML reads 18.10 as the number 18.1)' })
    .regex(
      RUNTIME_VERSION_RE,
      'a runtime version is letters, digits, ".", "_", "+" and "-", starting with a letter or digit, e.g. "18.20.4"',
    ),
);

/** The runtimes of a manifest: name -> version. */
export const runtimeMap = z.record(runtimeName, runtimeVersion, { error: 'expected a mapping of runtime names to versions' });

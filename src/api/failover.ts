/**
 * How the API client fails over between the servers of one database: which failures move it to
 * the next server, how long it waits for an answer, and the error of a call no server answered.
 * The rules are in ApiClient.raw and docs/concepts.md#several-servers.
 */
import { NoopsError } from '../errors/index.js';
import type { ServerList } from './server-list.js';

/**
 * With several servers, a server that has not begun to answer a plain call in 10 s is taken as
 * hung (SIGSTOP, a dead host behind a live TCP stack): a healthy server answers in milliseconds,
 * and 10 s keeps a failover "within seconds" while staying far above a loaded server's answer.
 */
export const ANSWER_TIMEOUT_MS = 10_000;

/** The socket codes of a request that never reached the server: any call may go to the next one. */
export const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * The 5xx codes that say the server itself is failing (not a fact about the fleet, such as a
 * host that did not answer, NOOPS_E_COMMAND_TIMEOUT): the client moves to the next server.
 */
const SERVER_FAILING = new Set(['NOOPS_E_INTERNAL', 'NOOPS_E_STORE_BUSY', 'NOOPS_E_STORE_OPEN', 'NOOPS_E_SERVER_UNREACHABLE']);

/** True when the body of a 5xx answer says the server is failing: no noops code (a proxy's page), or one of SERVER_FAILING. */
export function serverFailing(body: string): boolean {
  const code = codeOf(body);
  return typeof code !== 'string' || SERVER_FAILING.has(code);
}

/**
 * The error of a call no server answered: the first that is not "unreachable" (an untrusted
 * certificate says more), else the one error, else one that names every server tried. A call
 * that may have been applied says so.
 */
export function finalError(errors: NoopsError[], servers: ServerList, method: string, notSent: boolean): NoopsError {
  const last = errors[errors.length - 1]!;
  const specific = errors.find((e) => e.code !== 'NOOPS_E_SERVER_UNREACHABLE');
  if (specific) return specific;
  if (!servers.several) return last;
  if (!notSent && method !== 'GET') {
    return new NoopsError('NOOPS_E_SERVER_UNREACHABLE', `${last.message}, after the ${method} was sent`, {
      cause: last,
      hint: `the call may have been applied before the server stopped answering, so it was not sent again; check (e.g. \`noops history\`) before repeating it: the next call goes to ${servers.current()}`,
    });
  }
  return new NoopsError(
    'NOOPS_E_SERVER_UNREACHABLE',
    `cannot reach any of the noops servers ${servers.urls.join(', ')} (${errors.map((e) => e.message).join('; ')})`,
    { cause: last },
  );
}

function codeOf(text: string): unknown {
  try {
    return (JSON.parse(text) as { code?: unknown } | null)?.code;
  } catch {
    return undefined;
  }
}

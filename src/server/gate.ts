/**
 * The one authentication gate. It is decided on the route fastify matched, never on the raw URL:
 * `/%61pi/v1/hosts`, `//api/v1/hosts` or `/API/v1/hosts` either match a route (and meet its
 * declared access) or match none (404, with nothing in it). A route that declares no access
 * stops the server from starting.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NoopsError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { ACCESS_LEVELS, mayCall, principalOf, type Access, type Principal } from './auth.js';
import type { PrincipalCache } from './principals.js';
import { hashToken } from './tokens.js';

/**
 * Refused calls without a valid token are audited at most this often per address: an attacker
 * spraying guesses must not be able to fill the audit log (each one is still refused).
 */
export const UNAUTHORIZED_AUDIT_EVERY_MS = 1_000;

declare module 'fastify' {
  interface FastifyRequest {
    /** the caller; null on public routes called without a token */
    principal: Principal;
    /** the sha256 of the caller's token (to take a use of a join token) */
    tokenHash: string;
  }
  interface FastifyContextConfig {
    /** who may call the route: required on every route (see auth.ts) */
    access?: Access;
  }
}

/** A route as declared: its method(s), URL pattern and access. */
export interface DeclaredRoute {
  method: string;
  url: string;
  access: Access;
}

const declared = new WeakMap<FastifyInstance, DeclaredRoute[]>();

/** Every route `app` declared, in registration order (route tests walk them all). */
export function declaredRoutes(app: FastifyInstance): readonly DeclaredRoute[] {
  return declared.get(app) ?? [];
}

/** Throws when a route is registered without a valid `config.access`: such a server never starts. */
export function requireDeclaredAccess(app: FastifyInstance): void {
  const routes: DeclaredRoute[] = [];
  declared.set(app, routes);
  app.addHook('onRoute', function (this: FastifyInstance, route) {
    if (this.hasDecorator(PUBLIC_SCOPE)) route.config = { ...(route.config as object), access: 'public' } as typeof route.config;
    const access = (route.config as { access?: unknown } | undefined)?.access;
    if (typeof access !== 'string' || !ACCESS_LEVELS.includes(access as Access)) {
      throw new Error(
        `route ${String(route.method)} ${route.url} declares no access: give it config.access, one of ${ACCESS_LEVELS.join(', ')}`,
      );
    }
    for (const method of [route.method].flat()) routes.push({ method: String(method), url: route.url, access: access as Access });
  });
}

/** The decoration that marks a plugin scope's routes public. */
const PUBLIC_SCOPE = 'noopsPublicScope';

/** Declares every route registered in `scope` (e.g. a static-file plugin's) public. */
export function declarePublic(scope: FastifyInstance): void {
  scope.decorate(PUBLIC_SCOPE, true);
}

/**
 * The gate: resolves the bearer token to a principal and checks it against the matched route's
 * declared access. Agent tokens are remembered briefly (`PrincipalCache`: 10,000 agents report
 * every few seconds); people's tokens are read from the store on every call, so a revoked or
 * expired token is refused at once on every server.
 */
export function installGate(
  app: FastifyInstance,
  store: Store,
  principals: PrincipalCache,
  onDenied: (req: FastifyRequest, err: NoopsError) => void,
): void {
  app.decorateRequest('principal', null as never);
  app.decorateRequest('tokenHash', '');
  app.addHook('onRequest', async (req) => {
    const access = req.routeOptions.config?.access;
    // No route matched: the not-found handler answers, and it says nothing about what exists.
    if (access === undefined) return;
    refuseRepeatedParameters(req.query);
    if (access === 'public') return;
    try {
      const { who, hash } = await resolve(store, principals, req.headers.authorization);
      if (!mayCall(who, access)) {
        throw new NoopsError(
          'NOOPS_E_FORBIDDEN',
          `a ${who.kind}${who.role ? ` (${who.role})` : ''} token may not call ${req.method} ${req.routeOptions.url}`,
          {
            hint: hintFor(access),
          },
        );
      }
      req.principal = who;
      req.tokenHash = hash;
    } catch (err) {
      if (err instanceof NoopsError) onDenied(req, err);
      throw err;
    }
  });
}

/** `?tag=a&tag=b` is a 400 naming the parameter, never an array for a handler to trip over. */
function refuseRepeatedParameters(query: unknown): void {
  for (const [key, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(value))
      throw new NoopsError('NOOPS_E_INPUT', `the parameter "${key}" is given more than once`, { hint: 'give each query parameter once' });
  }
}

async function resolve(store: Store, principals: PrincipalCache, header: string | undefined): Promise<{ who: Principal; hash: string }> {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match) throw new NoopsError('NOOPS_E_UNAUTHORIZED', 'this API needs a token (Authorization: Bearer TOKEN)');
  const hash = hashToken(match[1]!);
  const cached = principals.get(hash);
  if (cached) return { who: cached, hash };
  const row = await store.findToken(hash);
  if (!row) throw new NoopsError('NOOPS_E_UNAUTHORIZED', 'the token is not known to this server (wrong, revoked, or from another server)');
  if (row.expiresAt !== null && row.expiresAt <= new Date().toISOString()) {
    throw new NoopsError('NOOPS_E_UNAUTHORIZED', `the token "${row.name}" expired at ${row.expiresAt}`, { hint: 'ask for a new token' });
  }
  const who = principalOf(row);
  if (row.kind === 'agent') principals.set(hash, who, Date.now(), row.expiresAt);
  return { who, hash };
}

function hintFor(access: Access): string {
  switch (access) {
    case 'agent':
      return 'only a noops agent calls this, with the token it got when it joined';
    case 'join':
      return 'only a join token calls this: start `noops agent --join-token-file FILE`';
    case 'server-admin':
      return "only the server's admin token may do this";
    default:
      return `this needs a token with role ${access} or more`;
  }
}

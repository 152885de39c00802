/**
 * Refused calls go to the audit log: who (the token's holder, or the address of a caller without a
 * valid token), what they tried, and why it was refused. Refusals of unknown tokens are recorded
 * at most once a second per address, so guessing cannot flood the log.
 */
import type { FastifyRequest } from 'fastify';
import type { NoopsError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { UNAUTHORIZED_AUDIT_EVERY_MS } from './gate.js';

/** Addresses remembered for the rate limit; older ones are forgotten first. */
const MAX_ADDRESSES = 10_000;

export class DenialLog {
  private readonly lastByAddress = new Map<string, number>();

  constructor(private readonly store: Store) {}

  /** Records a refusal; never throws (a failed audit write is logged, the refusal stands). */
  record(req: FastifyRequest, err: NoopsError, now = Date.now()): void {
    const who = req.principal as FastifyRequest['principal'] | null;
    const address = req.ip ?? 'unknown';
    if (!who) {
      const last = this.lastByAddress.get(address);
      if (last !== undefined && now - last < UNAUTHORIZED_AUDIT_EVERY_MS) return;
      this.lastByAddress.delete(address);
      this.lastByAddress.set(address, now);
      if (this.lastByAddress.size > MAX_ADDRESSES) this.lastByAddress.delete(this.lastByAddress.keys().next().value!);
    }
    const row = {
      at: new Date(now).toISOString(),
      actor: who ? `${who.name}` : `anonymous@${address}`,
      action: 'denied',
      target: `${req.method} ${req.routeOptions.url ?? req.url}`,
      detail: { code: err.code, message: err.message, token: who?.id ?? null, address },
    };
    this.store.audit(row).catch((e: Error) => process.stderr.write(`noops server: could not audit a refused call: ${e.message}\n`));
  }
}

/**
 * The agent's load-balancer call (issue 16), beside client.ts: what the balancer host's agent
 * applied and sees, one report per pool it drives. The pools themselves come in its desired-state
 * long poll (`ApiClient.desired(after, { balancers: INDEX })`).
 *
 * @example
 *   await sendBalancerReports(client, [{ name: 'web', index: 7, ok: true, at: new Date().toISOString(), members: [] }]);
 */
import type { BalancerReport, BalancerReportBody } from './balancers-types.js';
import type { ApiClient } from './client.js';

/** `POST /api/v1/agent/balancers`: the reports of the pools this host's agent drives (an agent token). */
export async function sendBalancerReports(client: ApiClient, reports: BalancerReport[]): Promise<void> {
  const body: BalancerReportBody = { reports };
  await client.request('POST', '/agent/balancers', body);
}

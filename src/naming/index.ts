/**
 * Naming (issue 16): who answers for a selector, as HTTP (`GET /api/v1/naming/SELECTOR`, with
 * Consul-style blocking queries) and DNS (`noops server --dns`), from the one read model of
 * what runs; and who depends on whom, declared (`depends_on:` in noops.yaml) and observed
 * (lookups recorded). See README.md and docs/naming.md.
 *
 * @example
 *   import { Naming, startDns } from '../naming/index.js';
 *   const naming = new Naming({ reports, store, nodes: () => tags.all() });
 *   await naming.start();
 *   naming.answer('cop=acme,service=shop'); // { index, endpoints: [{ host, address, port, ... }] }
 *   const dns = await startDns({ host: '127.0.0.1', port: 8600 }, naming.dnsSource());
 */
export { DNS_TTL_S, answerQuery, startDns, type DnsSource, type RunningDns } from './dns.js';
export { HOST_LABEL, ZONE, canonicalSelector, dnsNameOf, dnsQuestion, namingSelector, type DnsQuestion } from './names.js';
export { LOOKUPS_FLUSH_MS, Naming, jobOf, type NamingDeps } from './service.js';
export {
  NAMING_WAKE_CHANNEL,
  NamingView,
  indexOf,
  plainAddress,
  type NamingSource,
  type NamingViewOptions,
  type HostChanges,
  HOSTS_FULL_READ_MS,
  type NamingWake,
} from './view.js';
export { DeadlineWheel, Question, WHEEL_TICK_MS, type NamingScope, type Watcher } from './watchers.js';
export { LivenessWheel } from './liveness.js';

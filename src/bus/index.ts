/**
 * The change bus: how a change made on one server reaches every server on the same database at
 * once (a host's desired state, an agent token revoked, what every desired answer depends on).
 * Light: the interface, the channels, and the in-process bus; the PostgreSQL bus (LISTEN/NOTIFY,
 * which loads `pg`) is the named entry `bus/postgres.ts`.
 *
 * Rule for subscribers: `publish` reaches every subscriber, on this server too, so a subscriber
 * only acts here (forgets, wakes) and never publishes again; that is what keeps a change from
 * looping between servers.
 *
 * @example
 *   const bus = new LocalChangeBus();
 *   const stop = bus.subscribe(CHANNELS.desired, { change: (host) => wake(host), resync: () => wakeAll() });
 *   await bus.publish(CHANNELS.desired, 'web-1');
 *   stop();
 */
import { Subscribers } from './subscribers.js';

export { Subscribers } from './subscribers.js';
export { Waiters } from './waiters.js';

/**
 * Every channel and what its payload holds: small (a name), never a secret. A receiver reads
 * what changed from the store; the payload only says where to look.
 */
export const CHANNELS = {
  /** a host's desired state changed; payload: the host name */
  desired: 'desired',
  /** something every desired answer depends on changed (root grants, secrets, runtimes); payload: empty */
  answers: 'answers',
  /** an agent's tokens were revoked or replaced (revoke, host rm, join again); payload: the agent's name */
  agentTokens: 'agent_tokens',
  /** a server wrote a deployment (started, stepped, ended); payload: its id. The rollout's leader takes up those it does not step; the others tell their live views */
  deployments: 'deployments',
  /** a person's pause, resume, promote or abort, for the rollout's leader; payload: JSON {id, action, by} */
  deploymentCommands: 'deployment_commands',
  /** hosts' stored last reports changed (or were removed); payload: host names, one per line (monitor/shared-reports.ts) */
  reports: 'reports',
  /** nodes were added to the service tree (payload: empty; tree/stored-tree.ts), or a cluster's hosts changed (payload `clusters`; monitor/strategies), or a host's scope (payload `hosts`; server/routes/metrics-scope.ts) */
  tree: 'tree',
  /** an agent command was queued (payload `host:NAME`: wake that agent's poll) or changed (`id:N`: wake its readers) */
  commands: 'commands',
  /** metric points were stored; payload: empty. Wakes the judge's leader to read them (issue 15) */
  points: 'points',
  /** strategies, nodata rules or maintenance changed; payload: empty (issue 15). Silences are read from the store by the judge's leader for each batch with events */
  strategies: 'strategies',
  /** an alarm was stored, acknowledged or delivered; payload: its id (issue 15) */
  alarms: 'alarms',
  /** a load-balancer pool was set or removed, a drain marked or cleared, or a balancer's agent reported; payload: the pool's name or '' (issue 16) */
  balancers: 'balancers',
  /** the containers' address pool was set (subnets may have been dropped); payload: empty (issue 17) */
  network: 'network',
  /** the scheduler's stale copies changed (payload `stale`), or hosts were drained or clusters scaled (payload `wake`) (issue 18) */
  schedule: 'schedule',
} as const;

/** A channel's name: lower-case letters, digits and `_`. */
export type Channel = (typeof CHANNELS)[keyof typeof CHANNELS];

/** The longest payload, in bytes: PostgreSQL's NOTIFY takes up to 8,000, and a name needs far less. */
export const MAX_PAYLOAD_BYTES = 1_000;

/** What a subscriber is told. Both run synchronously and must not throw (a throw is logged). */
export interface Subscriber {
  /** a change was published on some server (this one included) */
  change(payload: string): void;
  /**
   * Changes may have been missed (the bus lost its connection and is back): forget what was
   * kept and read the store again.
   */
  resync(): void;
}

/** Tells every server on one database what changed. */
export interface ChangeBus {
  /**
   * Delivers `payload` on `channel` to every subscriber on every server. Subscribers here are
   * called before it returns; the promise settles once the other servers were sent it (call it
   * after the write it announces has committed: a receiver reads the store).
   */
  publish(channel: Channel, payload: string): Promise<void>;
  /** Calls `subscriber` for every change on `channel`; answers a function that stops it. */
  subscribe(channel: Channel, subscriber: Subscriber): () => void;
  close(): Promise<void>;
}

/** The bus of one server alone (SQLite): publish calls the subscribers directly. */
export class LocalChangeBus implements ChangeBus {
  private readonly subscribers = new Subscribers();

  publish(channel: Channel, payload: string): Promise<void> {
    this.subscribers.deliver(channel, payload);
    return Promise.resolve();
  }

  subscribe(channel: Channel, subscriber: Subscriber): () => void {
    return this.subscribers.add(channel, subscriber);
  }

  async close(): Promise<void> {
    this.subscribers.clear();
  }
}

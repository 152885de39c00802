/**
 * Desired-state fan-out across servers: N long polls parked on the servers (host i on server
 * i mod k), one deploy of a cluster holding all N hosts written through the first server, and
 * the time from that call until every poll was answered with the new release. The same with
 * every poll on one server is the figure to hold it against: over three servers, the change
 * reaches two of them through PostgreSQL LISTEN/NOTIFY (src/bus/).
 */
import http from 'node:http';
import { mapLimit } from '../lib/limit.js';
import { procUsage, usageBetween } from '../lib/procstat.js';
import { percentile, round } from '../lib/stats.js';
import type { DesiredState } from '../../src/api/index.js';
import { apiOf, type ServerNode } from '../../test/e2e/servers-fleet.js';
import type { PaperHost } from './fleet.js';

/** Polls opened at once while parking (each holds its own connection afterwards). */
const PARK_CONCURRENCY = 64;
/** A poll not answered within this is counted as not reached. */
const ANSWER_TIMEOUT_MS = 60_000;
/** The servers are settled (every poll parked, nothing else running) under this share of a core each, over a second. */
const IDLE_CORE_SHARE = 0.05;
const SETTLE_TIMEOUT_MS = 60_000;

export interface FanOutRun {
  /** how many servers held the polls */
  servers: number;
  polls: number;
  /** ms from the deploy call until it answered (the deployment is recorded; its first batch is written after) */
  deployAnsweredMs: number;
  /** ms from the deploy call until half, and all, of the polls were answered with the release */
  p50Ms: number;
  allMs: number | null;
  answered: number;
}

function get(agent: http.Agent, url: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}` }, timeout: ANSWER_TIMEOUT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.once('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode}: ${text}`))));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', reject);
  });
}

/** Resolves once every one of `pids` used under IDLE_CORE_SHARE of a core over a second. */
async function untilIdle(pids: number[]): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let last = pids.map((p) => procUsage(p)!);
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = pids.map((p) => procUsage(p)!);
    if (now.every((u, i) => usageBetween(last[i]!, u).coreShare < IDLE_CORE_SHARE)) return;
    last = now;
  }
  throw new Error(`the servers did not settle within ${SETTLE_TIMEOUT_MS / 1000} s`);
}

/**
 * Parks one poll per host on `pollOn` (host i on pollOn[i % k]), then deploys `version` to
 * `cluster` (all the hosts, one batch) through `writeVia` and times the answers.
 */
export async function fanOut(
  hosts: PaperHost[],
  pollOn: ServerNode[],
  writeVia: ServerNode,
  cluster: string,
  version: string,
): Promise<FanOutRun> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  try {
    await apiOf(writeVia.proc).setCluster({ tag: cluster, hosts: hosts.map((h) => h.name), yes: true });
    const urlOf = (i: number): string => `${pollOn[i % pollOn.length]!.proc.url}/api/v1/agent/desired`;
    const generations = await mapLimit(hosts, PARK_CONCURRENCY, async (h, i) => {
      const state = JSON.parse(await get(agent, `${urlOf(i)}?after=-1`, h.token)) as { generation: number };
      return state.generation;
    });
    const arrivals: number[] = [];
    // An answer without the release (another change woke it) is followed by the next poll, as an agent does.
    const watch = async (h: PaperHost, url: string, after: number): Promise<void> => {
      for (;;) {
        const state = JSON.parse(await get(agent, `${url}?after=${after}`, h.token)) as DesiredState;
        if (state.instances.some((x) => x.tag === cluster && x.version === version)) return void arrivals.push(performance.now());
        after = state.generation;
      }
    };
    const polls = hosts.map((h, i) => watch(h, urlOf(i), (generations[i] as PromiseFulfilledResult<number>).value).catch(() => undefined));
    await untilIdle(pollOn.map((n) => n.proc.child.pid!));
    const t0 = performance.now();
    await apiOf(writeVia.proc).deploy({ tag: cluster, version, policy: { batch: '100%' } });
    const deployAnsweredMs = round(performance.now() - t0);
    await Promise.race([Promise.all(polls), new Promise((r) => setTimeout(r, ANSWER_TIMEOUT_MS))]);
    return {
      servers: pollOn.length,
      polls: hosts.length,
      deployAnsweredMs,
      p50Ms: round(percentile(arrivals, 50) - t0),
      allMs: arrivals.length === hosts.length ? round(Math.max(...arrivals) - t0) : null,
      answered: arrivals.length,
    };
  } finally {
    agent.destroy();
  }
}

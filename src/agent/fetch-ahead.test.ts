/**
 * The agent fetching ahead the packages staged for its host's next batch (DesiredState.stage:
 * docs/packages-p2p.md), against a stand-in server over real HTTP that answers the agent's
 * protocol with the desired states a test publishes and serves packages, holding the second half
 * of one while a test says so. The releases are kept in memory, with a cache as the disk's:
 * `prefetch` puts a package there, `install` takes it from there (not downloaded: the agent says
 * it was, ahead) or downloads it.
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { DesiredInstance, DesiredState, StagedPackage } from '../api/index.js';
import { Agent, REPORT_DEBOUNCE_MS } from './agent.js';
import type { HostInstallOptions, ReleaseStore } from './backends.js';
import { until } from './balancers/test-daemons.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const OTHER = 'cop.acme_owt.web_pdl.shop_service.api_job.admin_cluster.prod';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Package {
  version: string;
  sha256: string;
  bytes: Buffer;
}

function pkg(version: string): Package {
  const bytes = randomBytes(256 * 1024);
  return { version, sha256: createHash('sha256').update(bytes).digest('hex'), bytes };
}

const staged = (p: Package, tag = TAG): StagedPackage => ({
  tag,
  version: p.version,
  sha256: p.sha256,
  url: `/api/v1/artifacts/${p.sha256}`,
});

function instance(p: Package, tag = TAG): DesiredInstance {
  return {
    ...staged(p, tag),
    manifest: {
      schema: 1,
      job: tag,
      version: p.version,
      commit: p.version,
      repo: 'r',
      builtAt: '',
      stack: 'manifest',
      env: {},
      processes: [],
    },
    deploymentId: 1,
    kind: 'deploy',
  };
}

/** The agent's server, standing in: desired states as published, packages as held. */
class StandIn {
  readonly server: Server;
  url = '';
  /** requests for each package, by sha256 */
  readonly asked = new Map<string, number>();
  /** packages whose answer was cut before its last byte (the agent hung up) */
  readonly cut = new Set<string>();
  /** the generation of each report the agent sent, in order */
  readonly reported: number[] = [];
  /** the `after` of each long poll, in order */
  readonly polledAfter: number[] = [];
  private readonly packages = new Map<string, Package>();
  /** packages whose second half waits, and what lets it go */
  private readonly held = new Map<string, { wait: Promise<void>; release: () => void }>();
  private state: DesiredState = { generation: 0, instances: [] };
  private polls: { after: number; answer: (ds: DesiredState) => void }[] = [];

  constructor(packages: Package[]) {
    for (const p of packages) this.packages.set(p.sha256, p);
    this.server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const send = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.pathname === '/api/v1/agent/report') {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => (body += c));
        req.once('end', () => {
          this.reported.push((JSON.parse(body) as { generation: number }).generation);
          send(200, { generation: this.state.generation });
        });
        return;
      }
      req.resume();
      if (url.pathname === '/api/v1/agent/join') return send(200, { token: 't0k', heartbeatMs: 60_000 });
      if (url.pathname === '/api/v1/agent/desired') {
        const poll = { after: Number(url.searchParams.get('after')), answer: (ds: DesiredState) => send(200, ds) };
        this.polledAfter.push(poll.after);
        if (this.state.generation > poll.after) return poll.answer(this.state);
        this.polls.push(poll); // a long poll: answered by the next state published, or cut by the agent's stop
        return;
      }
      const p = this.packages.get(/^\/api\/v1\/artifacts\/([0-9a-f]{64})$/.exec(url.pathname)?.[1] ?? '');
      if (p === undefined) return send(404, { code: 'NOOPS_E_NOT_FOUND', message: `no route ${req.method} ${url.pathname}` });
      this.asked.set(p.sha256, (this.asked.get(p.sha256) ?? 0) + 1);
      res.once('close', () => res.writableFinished || this.cut.add(p.sha256));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': p.bytes.length });
      const half = p.bytes.length / 2;
      res.write(p.bytes.subarray(0, half));
      void (this.held.get(p.sha256)?.wait ?? Promise.resolve()).then(() => res.end(p.bytes.subarray(half)));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  /** The next generation: `ds` (instances and stage), answered to the agent's long poll. */
  publish(ds: Omit<DesiredState, 'generation'>): void {
    this.state = { server: { id: 's1' }, ...ds, generation: this.state.generation + 1 };
    for (const poll of this.polls.splice(0)) poll.answer(this.state);
  }

  /** Holds the second half of package `p` until `release(p)`. */
  hold(p: Package): void {
    let release = (): void => undefined;
    const wait = new Promise<void>((resolve) => (release = resolve));
    this.held.set(p.sha256, { wait, release });
  }

  release(p: Package): void {
    this.held.get(p.sha256)?.release();
    this.held.delete(p.sha256);
  }

  async close(): Promise<void> {
    for (const sha of [...this.held.keys()]) this.release(this.packages.get(sha)!);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Releases in memory, with a cache as the disk's (ROOT/cache): what the agent asked of them. */
class CachedReleases implements ReleaseStore {
  readonly cache = new Set<string>();
  /** package by tag, once installed */
  readonly installed = new Map<string, string>();
  /** the calls, in order: `install <sha256>`, `prefetch <sha256>`, `prune <tag>` */
  readonly calls: string[] = [];
  /** what each prefetch that failed threw, by sha256 */
  readonly failed = new Map<string, Error>();

  async install(o: HostInstallOptions): Promise<{ downloaded: boolean }> {
    this.calls.push(`install ${o.sha256}`);
    const cached = this.cache.has(o.sha256);
    if (!cached) await this.fetch(o.sha256, o.download);
    this.installed.set(o.tag, o.sha256);
    return { downloaded: !cached };
  }

  async prefetch(_root: string, sha256: string, download: HostInstallOptions['download']): Promise<void> {
    this.calls.push(`prefetch ${sha256}`);
    if (this.cache.has(sha256)) return;
    try {
      await this.fetch(sha256, download);
    } catch (err) {
      this.failed.set(sha256, err as Error);
      throw err;
    }
  }

  /** The whole package through the agent's download, checked, into the cache. */
  private async fetch(sha256: string, download: HostInstallOptions['download']): Promise<void> {
    const hash = createHash('sha256');
    await download(
      new Writable({
        write(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          done();
        },
      }),
    );
    assert.equal(hash.digest('hex'), sha256);
    this.cache.add(sha256);
  }

  activate(): void {}

  async prune(_root: string, tag: string): Promise<void> {
    this.calls.push(`prune ${tag}`);
  }
}

/**
 * A stand-in server holding `packages`, and an agent of in-memory releases against it, joined;
 * when the test ends the agent stops, then the server. The agent's log lines in `log`.
 */
async function setUp(
  t: TestContext,
  packages: Package[],
): Promise<{ server: StandIn; releases: CachedReleases; agent: Agent; log: string[] }> {
  const server = new StandIn(packages);
  await server.listen();
  const root = mkdtempSync(join(tmpdir(), 'noops-fetch-ahead-'));
  dirs.push(root);
  const log: string[] = [];
  const releases = new CachedReleases();
  const agent = new Agent({
    server: server.url,
    joinToken: 'join',
    root,
    name: 'h1',
    labels: {},
    log: (l) => log.push(l),
    ctl: false,
    hostMetrics: false,
    pieces: false, // whole from the server: the stand-in tracks no pieces
    host: { releases },
  });
  t.after(async () => {
    await agent.stop();
    await server.close();
  });
  await agent.start();
  return { server, releases, agent, log };
}

/** One turn of the event loop: every promise settled by what already happened has run on. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('an install of a package still queued to be fetched ahead fetches it itself, at once, and it is fetched ahead no more', async (t) => {
  const [a, b] = [pkg('aaaaaaaaa'), pkg('bbbbbbbbb')];
  const { server, releases, agent, log } = await setUp(t, [a, b]);
  server.hold(a);
  server.publish({ instances: [], stage: [staged(a), staged(b)] });
  await until('A is being fetched ahead (its second half held), B queued', () => server.asked.get(a.sha256) === 1);
  // B's batch starts (the server may still name it staged)
  server.publish({ instances: [instance(b)], stage: [staged(a), staged(b)] });
  await until('B installed while A is still held: it did not wait behind the queue', () => releases.installed.get(TAG) === b.sha256);
  assert.equal(agent.host.state.instances[TAG]?.downloaded, true);
  server.release(a);
  await until('A fetched ahead', () => log.some((l) => l.includes(`package of ${a.version} is fetched ahead`)));
  await turn(); // the queue's next package would be asked for now
  assert.deepEqual(releases.calls, [`prefetch ${a.sha256}`, `install ${b.sha256}`, `prune ${TAG}`], 'B was never fetched ahead');
  assert.deepEqual(Object.fromEntries(server.asked), { [a.sha256]: 1, [b.sha256]: 1 });
});

test('an install of the package being fetched ahead waits for that download, downloads nothing more, and says it downloaded', async (t) => {
  const [a, other] = [pkg('aaaaaaaaa'), pkg('ccccccccc')];
  const { server, releases, agent } = await setUp(t, [a, other]);
  server.hold(a);
  server.publish({ instances: [], stage: [staged(a)] });
  await until('A is being fetched ahead (its second half held)', () => server.asked.get(a.sha256) === 1);
  // the batch starts: another job's release first (installed at once), then A's
  server.publish({ instances: [instance(other, OTHER), instance(a)], stage: [] });
  await until("the other job's release installed: the reconcile goes on to A's", () => releases.calls.includes(`prune ${OTHER}`));
  await turn(); // A's install has been asked for by now (only promises lie between)
  assert.deepEqual(releases.calls, [`prefetch ${a.sha256}`, `install ${other.sha256}`, `prune ${OTHER}`], "A's install waits");
  server.release(a);
  await until('A installed', () => releases.installed.get(TAG) === a.sha256);
  assert.equal(server.asked.get(a.sha256), 1, 'downloaded once, ahead');
  assert.equal(releases.calls.at(-2), `install ${a.sha256}`);
  assert.equal(agent.host.state.instances[TAG]?.downloaded, true, 'found in the cache, but downloaded ahead: the rollout is told so');
  assert.equal(agent.host.state.instances[OTHER]?.downloaded, true);
});

test('a newer desired state whose stage no longer names a queued package drops it from the queue', async (t) => {
  const [a, b, c] = [pkg('aaaaaaaaa'), pkg('bbbbbbbbb'), pkg('ccccccccc')];
  const { server, releases, log } = await setUp(t, [a, b, c]);
  server.hold(a);
  server.publish({ instances: [], stage: [staged(a), staged(b), staged(c)] });
  await until('A is being fetched ahead, B and C queued', () => server.asked.get(a.sha256) === 1);
  server.publish({ instances: [], stage: [staged(a), staged(c)] }); // a newer answer (of another change) no longer names B
  // taken before A's download ends (the agent polls after it): else B would rightly have started
  await until('the newer answer taken', () => server.polledAfter.includes(2));
  server.release(a);
  await until('C fetched ahead', () => releases.cache.has(c.sha256));
  await turn();
  // one at a time, in order: B, had it stayed queued, came before C
  assert.deepEqual(releases.calls, [`prefetch ${a.sha256}`, `prefetch ${c.sha256}`]);
  assert.equal(server.asked.get(b.sha256), undefined);
  assert.equal(log.filter((l) => l.includes('is fetched ahead')).length, 2);
});

test('stopping the agent stops its download ahead: the download is cut, nothing else starts, nothing hangs', async (t) => {
  const [a, b] = [pkg('aaaaaaaaa'), pkg('bbbbbbbbb')];
  const { server, releases, agent, log } = await setUp(t, [a, b]);
  server.hold(a);
  server.publish({ instances: [], stage: [staged(a), staged(b)] });
  await until('A is being fetched ahead (its second half held), B queued', () => server.asked.get(a.sha256) === 1);
  await agent.stop();
  await until("A's download failed, aborted", () => releases.failed.has(a.sha256));
  await until('the server saw the agent hang up on A', () => server.cut.has(a.sha256));
  await turn(); // the queue's next package would be asked for now
  assert.deepEqual(releases.calls, [`prefetch ${a.sha256}`], 'B is not fetched by a stopped agent');
  assert.equal(server.asked.get(b.sha256), undefined);
  assert.equal(releases.cache.has(a.sha256), false);
  assert.deepEqual(
    log.filter((l) => l.includes('fetched ahead')),
    [],
    'a download a stop cut is not said to have failed',
  );
});

test('an answer that only stages a package is applied without a save by its reconcile or a report; a new deployment of the same release, or a new network, is both', async (t) => {
  const [a, b] = [pkg('aaaaaaaaa'), pkg('bbbbbbbbb')];
  const { server, releases, agent, log } = await setUp(t, [a, b]);
  const stateFile = join(agent.root, 'state.json');
  server.publish({ instances: [instance(a)] });
  await until('A installed and reported', () => releases.installed.get(TAG) === a.sha256 && server.reported.includes(1));
  server.publish({ instances: [instance(a)], stage: [staged(b)] }); // generation 2: B staged, nothing else
  await until('B fetched ahead', () => log.some((l) => l.includes(`package of ${b.version} is fetched ahead`)));
  await until('generation 2 taken: the agent polls after it', () => server.polledAfter.includes(2));
  // A report of generation 2 would go within REPORT_DEBOUNCE_MS of its reconcile: waited out four times over.
  await new Promise((resolve) => setTimeout(resolve, 4 * REPORT_DEBOUNCE_MS));
  assert.ok(!server.reported.includes(2), `reports of generations ${server.reported.join(', ')}: none for the staging`);
  const after2 = JSON.parse(readFileSync(stateFile, 'utf8')) as { generation: number; server: { generation: number } };
  assert.equal(after2.server.generation, 2, 'the trust memory holds the answer it accepted (written before anything is applied)');
  assert.equal(after2.generation, 1, "the reconcile did not write the state again for the staging's generation");
  // generation 3: a new deployment of the same release (nothing to install), which the host records
  server.publish({ instances: [{ ...instance(a), deploymentId: 2 }] });
  await until('generation 3 reported', () => server.reported.includes(3));
  assert.equal(agent.host.state.instances[TAG]?.desired.deploymentId, 2);
  const written = JSON.parse(readFileSync(stateFile, 'utf8')) as {
    generation: number;
    instances: Record<string, { desired: DesiredInstance }>;
  };
  assert.equal(written.generation, 3);
  assert.equal(written.instances[TAG]?.desired.deploymentId, 2);
  assert.deepEqual(releases.calls, [`install ${a.sha256}`, `prune ${TAG}`, `prefetch ${b.sha256}`], 'A installed once');
  // generation 4: the host's container network changes, applied beside the reconcile: written and reported
  const network = { name: 'noops', subnet: '198.18.0.0/24', gateway: '198.18.0.1', driver: 'bridge' as const, parent: null };
  server.publish({ instances: [{ ...instance(a), deploymentId: 2 }], network });
  await until('generation 4 reported', () => server.reported.includes(4));
  assert.equal((JSON.parse(readFileSync(stateFile, 'utf8')) as { generation: number }).generation, 4);
});

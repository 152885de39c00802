/**
 * The typed client of the HTTP API, used by the CLI, the agent, the tests and the benchmarks.
 *
 * @example
 *   const api = new ApiClient('http://127.0.0.1:7700', token);
 *   const hosts = await api.hosts();
 *   // a server with TLS from a local CA: verified against that CA alone
 *   const tls = new ApiClient('https://10.0.0.5:7700', token, { ca: readFileSync('ca.pem', 'utf8') });
 */
import { NoopsError, isErrorCode } from '../errors/index.js';
import type * as T from './types.js';
import { API_PREFIX } from './types.js';
import { readEvents } from './sse.js';
import { ANSWER_TIMEOUT_MS, NOT_SENT, finalError, serverFailing } from './failover.js';
import { ServerList, parseServers } from './server-list.js';
import { causeCode, fetchFor, transportError, type ClientTrust, type Fetch } from './transport.js';
import { queryString as query } from './query.js';

export interface RequestOptions {
  signal?: AbortSignal;
  /**
   * With several servers: how long to wait for the answer's headers before the server counts as
   * failed (default ANSWER_TIMEOUT_MS; 0: no limit). With one server there is nowhere else to go,
   * so there is no limit, as before.
   */
  timeoutMs?: number;
  /** false: a GET is not tried again on the next server (the agent's long poll re-polls itself) */
  failover?: boolean;
  /** more request headers (a download's `range`) */
  headers?: Record<string, string>;
}

export class ApiClient {
  /** the servers this client may use (one, or several of one database) and the one it uses now */
  readonly servers: ServerList;
  private readonly token: string | undefined;
  /** what the server is verified by (its CA), kept so the same trust goes with a new token */
  readonly trust: ClientTrust | undefined;
  private readonly fetches = new Map<string, Fetch>();
  private readonly tokenKeys = new Map<string, Buffer>();

  /**
   * `server`: a URL, a comma-separated list of URLs (checked by parseServers), or a ServerList
   * shared with other clients (the agent's join client and its token client move together).
   */
  constructor(server: string | readonly string[] | ServerList, token?: string, trust?: ClientTrust) {
    this.servers = server instanceof ServerList ? server : new ServerList(parseServers(server, 'the server'));
    this.token = token;
    this.trust = trust;
  }

  /**
   * A key derived from this client's token by `derive` (an agent's peer key: swarm/tickets.ts
   * `peerKeyOf`), kept under `name`; undefined without a token: what only this client and the
   * servers it sends its token to can compute. The derivation is the caller's: this module is
   * loaded by the web console too, and imports nothing of Node's.
   */
  tokenKey(name: string, derive: (token: string) => Buffer): Buffer | undefined {
    if (this.token === undefined) return undefined;
    let key = this.tokenKeys.get(name);
    if (key === undefined) this.tokenKeys.set(name, (key = derive(this.token)));
    return key;
  }

  /** The server this client talks to now. */
  get server(): string {
    return this.servers.current();
  }

  private fetchOf(url: string): Fetch {
    if (!this.fetches.has(url)) this.fetches.set(url, fetchFor(url, this.trust));
    return this.fetches.get(url)!;
  }

  /** Calls one route; answers parsed JSON or throws the server's NoopsError. */
  async request<R>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<R> {
    const res = await this.raw(method, path, body, opts);
    const text = await res.text();
    const data = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (!res.ok) throw decodeError(res.status, data);
    return data as R;
  }

  /**
   * Calls one route and answers the Response as it is (for downloads); throws on HTTP errors.
   * Several servers: a failing one is left; the call goes to the next when nothing was sent or it
   * is a GET, never otherwise (docs/concepts.md#several-servers). A 4xx is an answer.
   */
  async raw(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const tried = new Set<string>();
    const errors: NoopsError[] = [];
    for (;;) {
      const url = this.servers.current();
      tried.add(url);
      const again = (): boolean => this.servers.failed(url) !== url && !tried.has(this.servers.current()) && opts.signal?.aborted !== true;
      const timeoutMs = this.servers.several ? (opts.timeoutMs ?? ANSWER_TIMEOUT_MS) : 0;
      // One server: the caller's signal alone, as before (nowhere to move, nothing to cut), and
      // no controller made for nothing (an agent reports every 5 s; 10,000 simulated ones in bench/fleet).
      const timeout = timeoutMs > 0 ? new AbortController() : undefined;
      const timer = timeout ? setTimeout(() => timeout.abort(), timeoutMs) : undefined;
      const signal = this.servers.several
        ? AbortSignal.any([this.servers.leftSignal(url), ...(timeout ? [timeout.signal] : []), ...(opts.signal ? [opts.signal] : [])])
        : opts.signal;
      let res: Response;
      try {
        res = await this.fetchOf(url)(`${url}${API_PREFIX}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
        });
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        const code = causeCode(err);
        const notSent = code !== undefined && NOT_SENT.has(code);
        const e = timeout?.signal.aborted
          ? new NoopsError('NOOPS_E_SERVER_UNREACHABLE', `the noops server at ${url} did not answer in ${timeoutMs} ms`, { cause: err })
          : transportError(err, url);
        errors.push(e);
        if (again() && (notSent || (method === 'GET' && opts.failover !== false))) continue;
        throw finalError(errors, this.servers, method, notSent);
      } finally {
        clearTimeout(timer);
      }
      if (res.status >= 500) {
        // read once here (a clone's tee is not reliable in Node 20's fetch), then handed on as it came
        const text = await res.text();
        if (serverFailing(text) && again() && method === 'GET' && opts.failover !== false) continue;
        res = new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
      }
      if (!res.ok && method === 'GET' && path.startsWith('/artifacts/')) {
        const text = await res.text();
        throw decodeError(res.status, text ? safeJson(text) : undefined);
      }
      return res;
    }
  }

  /**
   * Every page of a paged list: the server answers at most a page (PAGE_MAX) and says in
   * `x-noops-next` where the next one starts.
   */
  private async pages<R>(path: string): Promise<R[]> {
    const out: R[] = [];
    let next: string | null = null;
    for (;;) {
      const res = await this.raw(
        'GET',
        next === null ? path : `${path}${path.includes('?') ? '&' : '?'}offset=${encodeURIComponent(next)}`,
      );
      const text = await res.text();
      const data = text === '' ? undefined : (JSON.parse(text) as unknown);
      if (!res.ok) throw decodeError(res.status, data);
      const page = data as R[];
      out.push(...page);
      next = res.headers.get('x-noops-next');
      if (next === null || page.length === 0) return out;
    }
  }

  // ---- people ----
  whoami(): Promise<T.WhoamiView> {
    return this.request('GET', '/whoami');
  }
  hosts(): Promise<T.HostView[]> {
    return this.pages('/hosts');
  }
  /** The servers of this database and the control loops each leads now (docs/servers.md). */
  serverList(): Promise<T.ServersView> {
    return this.request('GET', '/servers');
  }
  /** Makes this server's answers acceptable again to a host's agent that refuses them (admin only; docs/trust.md). */
  adoptHost(name: string, opts: { yes?: boolean } = {}): Promise<T.HostAdoptView> {
    return this.request('POST', `/hosts/${encodeURIComponent(name)}/adopt`, { yes: opts.yes === true });
  }
  instances(tag?: string): Promise<T.InstanceView[]> {
    return this.pages(`/instances${query({ tag })}`);
  }
  tree(selector?: string): Promise<T.TreeView> {
    return this.request('GET', `/tree${query({ selector })}`);
  }
  /** One node of the tree with its hosts, instances, jobs (and, for a cluster, its releases in use). */
  node(tag: string): Promise<T.NodeView> {
    return this.request('GET', `/nodes/${encodeURIComponent(tag)}`);
  }
  releases(tag?: string): Promise<T.ReleaseView[]> {
    return this.pages(`/releases${query({ tag })}`);
  }
  startBuild(req: T.BuildRequest): Promise<T.BuildView> {
    return this.request('POST', '/builds', req);
  }
  build(id: number, logOffset = 0): Promise<T.BuildProgress> {
    return this.request('GET', `/builds/${id}${query({ logOffset: String(logOffset) })}`);
  }
  clusters(): Promise<T.ClusterView[]> {
    return this.pages('/clusters');
  }
  setCluster(req: T.ClusterSetRequest): Promise<T.ClusterView> {
    return this.request('PUT', '/clusters', req);
  }
  applyClusterConf(req: T.ClusterApplyRequest): Promise<T.ClusterView[]> {
    return this.request('POST', '/clusters/apply', req);
  }
  deploy(req: T.DeployRequest): Promise<T.DeploymentView> {
    return this.request('POST', '/deployments', req);
  }
  rollback(req: T.RollbackRequest): Promise<T.DeploymentView> {
    return this.request('POST', '/rollbacks', req);
  }
  deployment(id: number): Promise<T.DeploymentView> {
    return this.request('GET', `/deployments/${id}`);
  }
  history(tag: string, limit?: number, status?: T.DeploymentStatusView): Promise<T.DeploymentView[]> {
    return this.request('GET', `/history${query({ tag, status, limit: limit === undefined ? undefined : String(limit) })}`);
  }
  /** pause, resume, promote or abort a running deployment; answers it once the command took effect */
  deploymentAction(id: number, action: T.DeploymentAction): Promise<T.DeploymentView> {
    return this.request('POST', `/deployments/${id}/${action}`);
  }
  /**
   * A deployment's events as they happen (the whole deployment first); the iteration ends when
   * the deployment has, or when the connection drops (then connect again).
   */
  async *deploymentEvents(id: number, opts: RequestOptions = {}): AsyncGenerator<T.DeploymentEvent> {
    const res = await this.raw('GET', `/deployments/${id}/events`, undefined, opts);
    if (!res.ok) throw decodeError(res.status, safeJson(await res.text()));
    if (!res.body) return;
    for await (const e of readEvents(res.body as ReadableStream<Uint8Array>)) {
      if (e.event === 'deployment') yield { type: 'deployment', deployment: e.data as T.DeploymentView };
      else if (e.event === 'log') yield { type: 'log', line: e.data as T.RolloutLogLine };
    }
  }
  audit(limit?: number): Promise<T.AuditView[]> {
    return this.request('GET', `/audit${query({ limit: limit === undefined ? undefined : String(limit) })}`);
  }

  // ---- host commands, through the server ----
  command(req: T.CommandRequest): Promise<T.CommandView> {
    return this.request('POST', '/commands', req, { timeoutMs: req.action === 'restart' ? 0 : undefined }); // a restart answers once its host is drained from its pools
  }
  /** The command and its output after `offset`; the server waits up to `waitMs` for news. */
  readCommand(id: number, offset: number, waitMs = 0, opts: RequestOptions = {}): Promise<T.CommandView> {
    return this.request('GET', `/commands/${id}${query({ offset: String(offset), waitMs: String(waitMs) })}`, undefined, opts);
  }
  cancelCommand(id: number): Promise<T.CommandView> {
    return this.request('DELETE', `/commands/${id}`);
  }
  metrics(filter: { selector?: string; host?: string; metric?: string } = {}): Promise<T.MetricSample[]> {
    return this.request('GET', `/metrics${query(filter)}`);
  }
  events(filter: { tag?: string; host?: string; limit?: number } = {}): Promise<T.EventView[]> {
    return this.request('GET', `/events${query({ ...filter, limit: filter.limit === undefined ? undefined : String(filter.limit) })}`);
  }
  crons(filter: { tag?: string; host?: string } = {}): Promise<T.CronView[]> {
    return this.request('GET', `/crons${query(filter)}`);
  }
  runtimes(): Promise<T.RuntimeView[]> {
    return this.pages('/runtimes');
  }
  /**
   * Uploads a runtime tarball (streamed, never held in memory whole).
   *
   * @example await api.addRuntime({ name: 'node', version: '18.20.4' }, createReadStream('node.tgz'))
   */
  async addRuntime(q: T.RuntimeAddQuery, body: AsyncIterable<Uint8Array>): Promise<T.RuntimeView> {
    const params = query({ name: q.name, version: q.version, platform: q.platform, exports: q.exports && JSON.stringify(q.exports) });
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await this.fetchOf(this.server)(`${this.server}${API_PREFIX}/runtimes${params}`, {
        // a stream body needs duplex 'half' (fetch's rule); the cast is for lib types without it
        method: 'POST',
        headers,
        body: body as unknown as string,
        duplex: 'half',
      } as RequestInit);
    } catch (err) {
      if (err instanceof NoopsError) throw err;
      const cause = (err as Error & { cause?: unknown }).cause;
      if (cause instanceof NoopsError) throw cause; // the body's own error (a file that cannot be read)
      const url = this.server;
      this.servers.failed(url); // a stream is not sent twice: the caller runs it again
      throw transportError(err, url);
    }
    const text = await res.text();
    const data = text === '' ? undefined : safeJson(text);
    if (!res.ok) throw decodeError(res.status, data);
    return data as T.RuntimeView;
  }

  // ---- access ----
  createToken(req: T.TokenCreateRequest): Promise<T.TokenCreated> {
    return this.request('POST', '/tokens', req);
  }
  tokens(kind?: T.TokenView['kind']): Promise<T.TokenView[]> {
    return this.pages(`/tokens${query({ kind })}`);
  }
  revokeToken(ref: string): Promise<T.TokenView[]> {
    return this.request('DELETE', `/tokens/${encodeURIComponent(ref)}`);
  }
  assignHost(name: string, scope: string | null): Promise<T.HostView> {
    return this.request('PUT', `/hosts/${encodeURIComponent(name)}/scope`, { scope });
  }
  approveHost(name: string): Promise<T.HostView> {
    return this.request('POST', `/hosts/${encodeURIComponent(name)}/approve`);
  }
  removeHost(name: string): Promise<T.HostView> {
    return this.request('DELETE', `/hosts/${encodeURIComponent(name)}`);
  }

  // ---- agents ----
  join(req: T.JoinRequest): Promise<T.JoinResponse> {
    return this.request('POST', '/agent/join', req);
  }
  /** Sends the agent's report; `signal` bounds the wait (with one server the client sets no deadline of its own). */
  report(report: T.AgentReport, signal?: AbortSignal): Promise<{ generation: number; heartbeatMs?: number }> {
    return this.request('POST', '/agent/report', report, signal ? { signal } : {});
  }
  /**
   * Long-polls the desired state after generation `after`; with `commands`, also wakes for (and takes) commands queued for this host;
   * with `balancers` (the index of the pools it drives, 0 at first), also wakes when they change (docs/balancers.md).
   */
  desired(after: number, opts: RequestOptions & { commands?: boolean; balancers?: number } = {}): Promise<T.DesiredState> {
    const { commands, balancers, ...rest } = opts;
    const q = query({
      after: String(after),
      commands: commands ? '1' : undefined,
      balancers: balancers === undefined ? undefined : String(balancers),
    });
    return this.request('GET', `/agent/desired${q}`, undefined, rest);
  }
  updateCommand(id: number, update: T.CommandUpdate): Promise<T.CommandUpdateAnswer> {
    return this.request('POST', `/agent/commands/${id}`, update);
  }
  /** Downloads a package; the caller verifies its sha256. */
  async download(url: string, opts: RequestOptions = {}): Promise<Response> {
    const path = url.startsWith(API_PREFIX) ? url.slice(API_PREFIX.length) : url;
    return this.raw('GET', path, undefined, opts);
  }

  // ---- secrets (values go in, never come out)
  /** Sets (or replaces) the secret `name` at `scope`. */
  setSecret(name: string, req: T.SecretSetRequest): Promise<T.SecretView> {
    return this.request('PUT', `/secrets/${encodeURIComponent(name)}`, req);
  }
  /** The secrets the token may see (with a scope: those in its subtree and those above it that serve it). */
  secrets(scope?: string): Promise<T.SecretView[]> {
    return this.pages(`/secrets${query({ scope })}`);
  }
  removeSecret(name: string, scope: string): Promise<T.SecretView[]> {
    return this.request('DELETE', `/secrets/${encodeURIComponent(name)}${query({ scope })}`);
  }

  // ---- root, per subtree (the server's admin only) ----
  /** The nodes under which processes may run as root. */
  rootGrants(): Promise<T.RootGrantView[]> {
    return this.pages('/grants/root');
  }
  /** Allows processes under `scope` to run as root. */
  allowRoot(scope: string): Promise<T.RootGrantView> {
    return this.request('PUT', '/grants/root', { scope });
  }
  /** Takes back `allowRoot(scope)`. */
  denyRoot(scope: string): Promise<T.RootGrantView> {
    return this.request('DELETE', `/grants/root/${encodeURIComponent(scope)}`);
  }

  // ---- undeploy and imported releases (issue 12) ----
  /** Stops a cluster's instances, in batches, recorded in its history; answers the deployment (kind `undeploy`). */
  undeploy(req: T.UndeployRequest): Promise<T.DeploymentView> {
    return this.request('POST', '/undeploys', req);
  }
  /** Has the server fetch a package built elsewhere from an http(s) URL and record it as a release of the tag's job. */
  importReleaseUrl(tag: string, url: string): Promise<T.ReleaseView> {
    return this.request('POST', `/releases/import${query({ tag, url })}`);
  }
  /**
   * Uploads a package built elsewhere (streamed) as a release of the tag's job.
   *
   * @example await api.importRelease('cop.acme_owt.web_pdl.shop_service.api_job.web', createReadStream('api.tar.gz'))
   */
  async importRelease(tag: string, body: AsyncIterable<Uint8Array>): Promise<T.ReleaseView> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.server}${API_PREFIX}/releases/import${query({ tag })}`, {
        // a stream body needs duplex 'half' (fetch's rule); the cast is for lib types without it
        method: 'POST',
        headers,
        body: body as unknown as string,
        duplex: 'half',
      } as RequestInit);
    } catch (err) {
      const cause = (err as Error & { cause?: unknown }).cause;
      if (cause instanceof NoopsError) throw cause; // the body's own error (a file that cannot be read)
      const url = this.server;
      this.servers.failed(url); // a stream is not sent twice: the caller runs it again
      throw new NoopsError('NOOPS_E_SERVER_UNREACHABLE', `cannot reach the noops server at ${url}`, { cause: err });
    }
    const text = await res.text();
    const data = text === '' ? undefined : safeJson(text);
    if (!res.ok) throw decodeError(res.status, data);
    return data as T.ReleaseView;
  }
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

export function decodeError(status: number, data: unknown): NoopsError {
  const body = (data ?? {}) as { code?: unknown; message?: unknown; hint?: unknown };
  const code = isErrorCode(body.code) ? body.code : status === 401 ? 'NOOPS_E_UNAUTHORIZED' : 'NOOPS_E_INTERNAL';
  const message = typeof body.message === 'string' ? body.message : `the server answered HTTP ${status}`;
  return new NoopsError(code, message, typeof body.hint === 'string' ? { hint: body.hint } : undefined);
}

/**
 * Deploying from the page: pick a release, built here or imported from a package built elsewhere
 * (or build a commit, or import a package's URL, first) and start a deploy. The deployment itself
 * is followed by the live view (live.ts).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { BuildView, ReleaseView } from '../../api/index.js';
import { html } from '../html.js';
import { useLoad } from '../load.js';
import { when } from '../format.js';
import { ErrorBox, useApi } from '../widgets.js';

/** A running build's log is read this often: lines show as they come, at one small read a second. */
export const BUILD_POLL_MS = 1000;
/** The build log the page keeps (its tail): enough to read a failing test's output. */
export const BUILD_LOG_CHARS = 20_000;

/** The policy a deploy from the page may override: its batches, and a canary first. */
export interface DeployChoice {
  version: string;
  policy: { batch?: string; canary?: boolean };
}

export function DeployForm({
  tag,
  current,
  busy,
  onDeploy,
}: {
  tag: string;
  current: string | null;
  busy: boolean;
  onDeploy: (choice: DeployChoice) => Promise<void>;
}) {
  const api = useApi();
  const releases = useLoad(() => api.releases(tag), [tag]);
  const [version, setVersion] = useState('');
  const [sending, setSending] = useState(false);
  const [building, setBuilding] = useState(false);
  const [importing, setImporting] = useState(false);
  const [batch, setBatch] = useState('');
  const [canary, setCanary] = useState(false);
  const list = releases.data ?? [];

  // The default pick: the newest release that is not running now.
  // (An update function: a pick made between the render and this effect is kept.)
  useEffect(() => {
    setVersion((v) =>
      v !== '' && list.some((r) => r.version === v) ? v : (list.find((r) => r.version !== current)?.version ?? list[0]?.version ?? ''),
    );
  }, [releases.data, current]);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!version) return;
    setSending(true);
    try {
      const policy: DeployChoice['policy'] = {};
      if (batch.trim()) policy.batch = batch.trim();
      if (canary) policy.canary = true;
      await onDeploy({ version, policy });
    } finally {
      setSending(false);
    }
  };

  return html`<div class="deploy">
    ${releases.error ? html`<${ErrorBox} error=${releases.error} retry=${releases.reload} />` : null}
    <form class="row-form" onSubmit=${submit}>
      <label for="release">Release</label>
      <select id="release" name="release" value=${version} disabled=${list.length === 0}
        onChange=${(e: Event) => setVersion((e.target as HTMLSelectElement).value)}>
        ${list.length === 0 ? html`<option value="">no release built yet</option>` : null}
        ${list.map((r) => html`<option key=${r.version} value=${r.version}>${releaseLabel(r, current)}</option>`)}
      </select>
      <label for="batch" title="batch sizes in order, the last repeating: host counts or percentages; empty: the cluster's policy">Batches</label>
      <input id="batch" class="mono narrow" value=${batch} placeholder="cluster's" onInput=${(e: Event) => setBatch((e.target as HTMLInputElement).value)} />
      <label class="check" title="the first batch is a canary: the deploy waits after it until you press Promote">
        <input type="checkbox" id="canary" checked=${canary} onChange=${(e: Event) => setCanary((e.target as HTMLInputElement).checked)} /> Canary first
      </label>
      <button type="submit" class="primary" disabled=${!version || busy || sending} title=${busy ? 'a deployment is running on this cluster' : ''}>
        ${sending ? 'Starting…' : 'Deploy'}
      </button>
      <button type="button" class="secondary" aria-expanded=${String(building)} onClick=${() => setBuilding(!building)}>Build a commit…</button>
      <button type="button" class="secondary" aria-expanded=${String(importing)} onClick=${() => setImporting(!importing)}>Import a package…</button>
    </form>
    ${
      importing
        ? html`<${ImportForm} tag=${tag} onImported=${(r: ReleaseView) => {
            releases.reload();
            setVersion(r.version);
          }} />`
        : null
    }
    ${
      building
        ? html`<${BuildForm} tag=${tag} repo=${list[0]?.repo ?? ''} onBuilt=${(b: BuildView) => {
            releases.reload();
            if (b.version) setVersion(b.version);
          }} />`
        : null
    }
  </div>`;
}

/**
 * A release's line in the picker: its version, whether it was built here or imported (a package
 * built elsewhere), when, and whether it runs now.
 *
 * @example releaseLabel({ version: '1a2b3c4d5', buildId: null, createdAt, ... }, null) // '1a2b3c4d5  ·  imported 2 min ago'
 */
export function releaseLabel(r: Pick<ReleaseView, 'version' | 'buildId' | 'createdAt'>, current: string | null): string {
  return `${r.version}  ·  ${r.buildId === null ? 'imported' : 'built'} ${when(r.createdAt)}${r.version === current ? '  ·  running now' : ''}`;
}

/** Imports a package built elsewhere from its http(s) URL (the server fetches it and checks it against the package spec). */
function ImportForm({ tag, onImported }: { tag: string; onImported: (r: ReleaseView) => void }) {
  const api = useApi();
  const [url, setUrl] = useState('');
  const [sending, setSending] = useState(false);
  const [done, setDone] = useState<ReleaseView | null>(null);
  const [error, setError] = useState<Error | null>(null);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    setDone(null);
    setSending(true);
    try {
      const r = await api.importReleaseUrl(tag, url.trim());
      setDone(r);
      onImported(r);
    } catch (err) {
      setError(err as Error);
    } finally {
      setSending(false);
    }
  };

  return html`<div class="import">
    <form class="row-form" onSubmit=${submit}>
      <label for="pkg-url">Package URL</label>
      <input id="pkg-url" class="wide" type="url" value=${url} required placeholder="https://ci.example.com/builds/api-1a2b3c4d5.tar.gz"
        onInput=${(e: Event) => setUrl((e.target as HTMLInputElement).value)} />
      <button type="submit" disabled=${sending}>${sending ? 'Importing…' : 'Import'}</button>
    </form>
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${done ? html`<p class="imported">Release <span class="mono version">${done.version}</span> imported (sha256 ${done.sha256.slice(0, 16)}…): it is ready to deploy.</p>` : null}
  </div>`;
}

function BuildForm({ tag, repo: firstRepo, onBuilt }: { tag: string; repo: string; onBuilt: (b: BuildView) => void }) {
  const api = useApi();
  const [repo, setRepo] = useState(firstRepo);
  const [ref, setRef] = useState('');
  const [build, setBuild] = useState<BuildView | null>(null);
  const [log, setLog] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const logEl = useRef<HTMLPreElement>(null);

  // Follows the build's log until it ends.
  useEffect(() => {
    if (build?.status !== 'running') return undefined;
    let offset = 0;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async (): Promise<void> => {
      try {
        const p = await api.build(build.id, offset);
        if (stopped) return;
        offset = p.logOffset;
        if (p.log) setLog((l) => (l + p.log).slice(-BUILD_LOG_CHARS));
        if (p.build.status !== 'running') {
          setBuild(p.build);
          if (p.build.status === 'succeeded') onBuilt(p.build);
          return;
        }
      } catch (err) {
        if (!stopped) setError(err as Error);
      }
      timer = setTimeout(() => void tick(), BUILD_POLL_MS);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [build?.id]);
  useEffect(() => logEl.current?.scrollTo(0, logEl.current.scrollHeight), [log]);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    setLog('');
    try {
      setBuild(await api.startBuild({ repo: repo.trim(), tag, ref: ref.trim() }));
    } catch (err) {
      setError(err as Error);
    }
  };

  return html`<div class="build">
    <form class="row-form" onSubmit=${submit}>
      <label for="repo">Repository</label>
      <input id="repo" class="wide" value=${repo} required placeholder="git URL or path on the server" onInput=${(e: Event) => setRepo((e.target as HTMLInputElement).value)} />
      <label for="ref">Commit</label>
      <input id="ref" class="mono" value=${ref} required placeholder="commit, tag or branch" onInput=${(e: Event) => setRef((e.target as HTMLInputElement).value)} />
      <button type="submit" disabled=${build?.status === 'running'}>Build</button>
    </form>
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${
      build
        ? html`<p>Build #${build.id}: <span class=${`badge badge-${build.status}`}>${build.status}</span>
      ${build.version ? html` release <span class="mono version">${build.version}</span> is ready to deploy` : null}
      ${build.error ? html` <span class="error-text">${build.error.message}</span>` : null}</p>`
        : null
    }
    ${log ? html`<pre class="log" ref=${logEl}>${log}</pre>` : null}
  </div>`;
}

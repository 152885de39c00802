/**
 * The signed-in console: the header, the tree on the left, the page on the right, and the
 * keyboard shortcuts.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { isTyping, KeyMap, type Binding } from './keys.js';
import { href, parseRoute, type Route } from './routes.js';
import type { ConsoleApi } from './api.js';
import { ApiContext, WhoContext } from './widgets.js';
import { whoWords, type Who } from './permissions.js';
import { TreePanel } from './pages/tree.js';
import { HomePage, MissingPage } from './pages/home.js';
import { NodePage } from './pages/node.js';
import { HostsPage } from './pages/hosts.js';
import { ServersPage } from './pages/servers.js';
import { DeploymentPage } from './pages/deployment.js';
import { MetricsPage } from './pages/metrics.js';
import { AlarmsPage } from './pages/alarms.js';

function go(to: string): void {
  location.hash = to;
}

/** The parent of a tag (`a.b_c.d` -> `a.b`), or null at a root. */
function parentTag(tag: string): string | null {
  const i = tag.lastIndexOf('_');
  return i < 0 ? null : tag.slice(0, i);
}

export function App({ api, who, signOut }: { api: ConsoleApi; who: Who; signOut: () => void }) {
  const [route, setRoute] = useState<Route>(parseRoute(location.hash));
  const [help, setHelp] = useState(false);
  const searchRef = useRef<HTMLInputElement>(null);
  const routeRef = useRef(route);
  routeRef.current = route;

  useEffect(() => {
    const on = (): void => {
      setRoute(parseRoute(location.hash));
      document.querySelector<HTMLElement>('main')?.scrollTo(0, 0);
    };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);

  const bindings = useMemo<Binding[]>(
    () => [
      { keys: '/', help: 'search the tree (a tag, or a selector like cop=acme,pdl=shop)', run: () => searchRef.current?.focus() },
      { keys: 'g t', help: 'go to the services (the top of the tree)', run: () => go(href.home()) },
      { keys: 'g h', help: 'go to the hosts', run: () => go(href.hosts()) },
      { keys: 'g s', help: 'go to the servers and what each leads', run: () => go(href.servers()) },
      { keys: 'g m', help: 'go to the metrics (charts of every series)', run: () => go(href.metrics()) },
      { keys: 'g a', help: 'go to the alarms (series in trouble)', run: () => go(href.alarms()) },
      { keys: 'g d', help: "go to this cluster's deploy form", run: () => document.getElementById('release')?.focus() },
      {
        keys: 'u',
        help: 'go up to the parent node',
        run: () => {
          const r = routeRef.current;
          if (r.page !== 'node') return;
          const up = parentTag(r.tag);
          go(up ? href.node(up) : href.home());
        },
      },
      { keys: '?', help: 'show or hide these shortcuts', run: () => setHelp((h) => !h) },
    ],
    [],
  );
  useEffect(() => {
    const keys = new KeyMap(bindings);
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') {
        setHelp(false);
        if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
        return;
      }
      if (isTyping(e.target, e)) return;
      if (keys.press(e.key, Date.now())) e.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [bindings]);

  const current = route.page === 'node' ? route.tag : null;
  let page: ReturnType<typeof html>;
  switch (route.page) {
    case 'home':
      page = html`<${HomePage} />`;
      break;
    case 'node':
      page = html`<${NodePage} key=${route.tag} tag=${route.tag} />`;
      break;
    case 'hosts':
      page = html`<${HostsPage} />`;
      break;
    case 'servers':
      page = html`<${ServersPage} />`;
      break;
    case 'deployment':
      page = html`<${DeploymentPage} id=${route.id} />`;
      break;
    case 'metrics':
      page = html`<${MetricsPage} key=${JSON.stringify([route.q.selector, route.q.host, route.q.metric])} q=${route.q} />`;
      break;
    case 'alarms':
      page = html`<${AlarmsPage} q=${route.q} />`;
      break;
    default:
      page = html`<${MissingPage} hash=${route.hash} />`;
  }

  return html`<${ApiContext.Provider} value=${api}><${WhoContext.Provider} value=${who}>
    <div class="shell">
      <header class="top">
        <a class="brand" href=${href.home()}>noops</a>
        <nav class="top-nav" aria-label="pages">
          <a href=${href.home()} aria-current=${route.page === 'home' || route.page === 'node' ? 'page' : undefined}>Services</a>
          <a href=${href.hosts()} aria-current=${route.page === 'hosts' ? 'page' : undefined}>Hosts</a>
          <a href=${href.servers()} aria-current=${route.page === 'servers' ? 'page' : undefined}>Servers</a>
          <a href=${href.metrics()} aria-current=${route.page === 'metrics' ? 'page' : undefined}>Metrics</a>
          <a href=${href.alarms()} aria-current=${route.page === 'alarms' ? 'page' : undefined}>Alarms</a>
        </nav>
        <span class="spacer"></span>
        <button class="link" onClick=${() => setHelp(!help)} title="keyboard shortcuts (?)">Shortcuts</button>
        <span class="who" data-role=${who.role ?? ''} title=${`token ${who.id}: ${whoWords(who)}`}>signed in as <strong>${who.name}</strong> · ${whoWords(who)}</span>
        <button class="link" onClick=${signOut}>Sign out</button>
      </header>
      <aside class="side"><${TreePanel} current=${current} searchRef=${searchRef} /></aside>
      <main class="main" tabindex="-1">${page}</main>
      ${
        help
          ? html`<div class="overlay" role="dialog" aria-modal="true" aria-label="keyboard shortcuts" onClick=${() => setHelp(false)}>
        <div class="overlay-box" onClick=${(e: Event) => e.stopPropagation()}>
          <h2>Keyboard shortcuts</h2>
          <table class="compact"><tbody>
            ${bindings.map((b) => html`<tr key=${b.keys}><td>${b.keys.split(' ').map((k) => html`<kbd key=${k}>${k}</kbd> `)}</td><td>${b.help}</td></tr>`)}
            <tr><td><kbd>Esc</kbd></td><td>leave the search box, close this</td></tr>
          </tbody></table>
          <button onClick=${() => setHelp(false)}>Close</button>
        </div>
      </div>`
          : null
      }
    </div>
  </${WhoContext.Provider}></${ApiContext.Provider}>`;
}

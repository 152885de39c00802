/** The servers of this database (several share one PostgreSQL), and which control loops each leads. */
import type { ServerView } from '../../api/index.js';
import { html } from '../html.js';
import { useLoad } from '../load.js';
import { Ago, Empty, ErrorBox, Loading, Section, useApi } from '../widgets.js';

/**
 * Re-read this often: a lease moves within about 5 s of its server's death (src/lead/), so a
 * takeover shows within a few seconds of happening.
 */
export const SERVERS_REFRESH_MS = 3000;

export function ServersPage() {
  const api = useApi();
  const data = useLoad<ServerView[]>(async () => (await api.serverList()).servers, [], SERVERS_REFRESH_MS);
  document.title = 'servers · noops';
  if (!data.data)
    return html`<div class="page"><h1>Servers</h1>${data.error ? html`<${ErrorBox} error=${data.error} retry=${data.reload} />` : html`<${Loading} what="the servers" />`}</div>`;
  const servers = data.data;
  const leaders = servers.filter((s) => s.leads.length > 0);
  return html`<div class="page">
    <header class="page-head">
      <h1>Servers</h1>
      <p class="summary">${servers.length} ${servers.length === 1 ? 'server' : 'servers'} on this database${leaders.map(
        (s) => html` · <span key=${s.id}>${s.leads.join(', ')} led by <span class="mono">${s.id}</span></span>`,
      )}</p>
    </header>
    ${data.error ? html`<${ErrorBox} error=${data.error} retry=${data.reload} />` : null}
    <${Section} title="All servers">
      ${
        servers.length === 0
          ? html`<${Empty} title="No server has recorded itself yet." />`
          : html`<div class="table-wrap"><table class="servers-page">
          <thead><tr><th>server</th><th>address</th><th>leads</th><th>last seen</th><th>started</th></tr></thead>
          <tbody>${servers.map(
            (s) => html`<tr key=${s.id} data-server=${s.id} data-self=${s.self ? 'true' : 'false'}>
            <td class="mono">${s.id}${s.self ? html` <span class="muted" title="the server this console talks to">(this)</span>` : null}</td>
            <td class="mono muted">${s.address}</td>
            <td class="leads">${s.leads.length > 0 ? s.leads.join(', ') : html`<span class="muted">-</span>`}</td>
            <td><${Ago} iso=${s.lastSeen} /></td>
            <td><${Ago} iso=${s.startedAt} /></td>
          </tr>`,
          )}</tbody>
        </table></div>`
      }
    </${Section}>
    <p class="muted small">Each control loop (rollout, ...) is run by one server at a time, the holder of its lease; when that server stops, another takes it over within its lease (about 5 s). See docs/servers.md.</p>
  </div>`;
}

/** Every host, up or down, and what runs on each. */
import { useState } from 'preact/hooks';
import type { ClusterView, HostView, InstanceView } from '../../api/index.js';
import { html } from '../html.js';
import { useLoad } from '../load.js';
import { href } from '../routes.js';
import { Ago, Badge, Empty, ErrorBox, Loading, Section, TagLink, useApi } from '../widgets.js';

/** Hosts are re-read this often: a host that stops reporting shows as down within seconds. */
export const HOSTS_REFRESH_MS = 5000;

interface HostsData {
  hosts: HostView[];
  instances: InstanceView[];
  clusters: ClusterView[];
}

export function HostsPage() {
  const api = useApi();
  const [filter, setFilter] = useState('');
  const data = useLoad<HostsData>(
    async () => {
      const [hosts, instances, clusters] = await Promise.all([api.hosts(), api.instances(), api.clusters()]);
      return { hosts, instances, clusters };
    },
    [],
    HOSTS_REFRESH_MS,
  );
  document.title = 'hosts · noops';
  if (!data.data)
    return html`<div class="page"><h1>Hosts</h1>${data.error ? html`<${ErrorBox} error=${data.error} retry=${data.reload} />` : html`<${Loading} what="the hosts" />`}</div>`;
  const { hosts, instances, clusters } = data.data;
  const f = filter.trim().toLowerCase();
  const shown = hosts
    .filter(
      (h) => !f || h.name.toLowerCase().includes(f) || Object.entries(h.labels).some(([k, v]) => `${k}=${v}`.toLowerCase().includes(f)),
    )
    .sort((a, b) => (a.status === b.status ? a.name.localeCompare(b.name) : a.status === 'down' ? -1 : 1));
  const down = hosts.filter((h) => h.status === 'down').length;
  return html`<div class="page">
    <header class="page-head">
      <h1>Hosts</h1>
      <p class="summary">${hosts.length} joined · ${hosts.length - down} up${down ? html` · <span class="bad">${down} down</span>` : null}</p>
    </header>
    ${data.error ? html`<${ErrorBox} error=${data.error} retry=${data.reload} />` : null}
    <${Section} title="All hosts" actions=${html`<input type="search" aria-label="filter hosts by name or label" placeholder="filter: name or label" value=${filter}
        onInput=${(e: Event) => setFilter((e.target as HTMLInputElement).value)} />`}>
      ${
        hosts.length === 0
          ? html`<${Empty} title="No host has joined yet.">On each machine run <code>noops agent --server URL --join-token TOKEN</code> (the join token is in the server's data folder, join.token).</${Empty}>`
          : shown.length === 0
            ? html`<${Empty} title="No host matches the filter." />`
            : html`<div class="table-wrap"><table class="hosts-page">
          <thead><tr><th>host</th><th>status</th><th>labels</th><th>last heartbeat</th><th>address</th><th>clusters</th><th>running</th><th>metrics</th></tr></thead>
          <tbody>${shown.map(
            (h) => html`<tr key=${h.name} id=${`host-${h.name}`} class=${h.status === 'down' ? 'row-bad' : ''} data-host=${h.name}>
            <td class="mono">${h.name}</td>
            <td><${Badge} status=${h.status} /></td>
            <td class="labels">${Object.entries(h.labels).map(([k, v]) => html`<span class="label" key=${k}>${k}=${v}</span>`)}</td>
            <td><${Ago} iso=${h.lastHeartbeat} /></td>
            <td class="mono muted">${h.address ?? '-'}</td>
            <td>${clusters.filter((c) => c.hosts.includes(h.name)).map((c) => html`<div key=${c.tag}><${TagLink} tag=${c.tag} text=${shortTag(c.tag)} /></div>`)}</td>
            <td>${running(instances.filter((i) => i.host === h.name))}</td>
            <td><a class="host-metrics" href=${href.metrics({ host: h.name })} title=${`cpu, memory, load and disk of ${h.name}`}>base metrics</a></td>
          </tr>`,
          )}</tbody>
        </table></div>`
      }
    </${Section}>
  </div>`;
}

/** job.cluster of a tag: enough to tell a host's instances apart. */
function shortTag(tag: string): string {
  return tag.split('_').slice(-2).join('_');
}

function running(rows: InstanceView[]) {
  if (rows.length === 0) return html`<span class="muted">nothing</span>`;
  return html`<ul class="plain">${rows.map(
    (i) => html`<li key=${`${i.tag} ${i.process}`}>
    <${TagLink} tag=${i.tag} text=${shortTag(i.tag)} />${' '}<span class="mono">${i.process}</span>${' '}<span class="mono version">${i.version}</span>${' '}<${Badge} status=${i.state} />
  </li>`,
  )}</ul>`;
}

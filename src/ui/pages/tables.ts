/** The tables several pages share: hosts and instances. */
import type { HostView, InstanceView } from '../../api/index.js';
import { html } from '../html.js';
import { duration } from '../format.js';
import { href } from '../routes.js';
import { Ago, Badge, Empty, TagLink } from '../widgets.js';

/** A tag shown relative to the node the page is about: the part below it. */
export function below(tag: string, base: string | null): string {
  if (base && tag === base) return tag.slice(tag.lastIndexOf('_') + 1);
  return base && tag.startsWith(`${base}_`) ? tag.slice(base.length + 1) : tag;
}

export function HostsTable({ hosts, base }: { hosts: (HostView & { clusters?: string[] })[]; base: string | null }) {
  if (hosts.length === 0) {
    return html`<${Empty} title="No hosts here yet.">Give a cluster its hosts with <code>noops cluster set -t TAG --hosts h1,h2</code> or a cluster.conf (<code>noops cluster apply</code>).</${Empty}>`;
  }
  return html`<div class="table-wrap"><table class="hosts-table">
    <thead><tr><th>host</th><th>status</th><th>labels</th><th>last heartbeat</th><th>address</th>${hosts[0]!.clusters ? html`<th>clusters</th>` : null}</tr></thead>
    <tbody>${hosts.map(
      (h) => html`<tr key=${h.name} class=${h.status === 'down' ? 'row-bad' : ''}>
      <td class="mono"><a href=${`${href.hosts()}`} title="all hosts">${h.name}</a></td>
      <td><${Badge} status=${h.status} /></td>
      <td class="labels">${Object.entries(h.labels).map(([k, v]) => html`<span class="label" key=${k}>${k}=${v}</span>`)}</td>
      <td><${Ago} iso=${h.lastHeartbeat} /></td>
      <td class="mono muted">${h.address ?? '-'}</td>
      ${h.clusters ? html`<td>${h.clusters.map((c) => html`<span key=${c}><${TagLink} tag=${c} text=${below(c, base)} /> </span>`)}</td>` : null}
    </tr>`,
    )}</tbody>
  </table></div>`;
}

export function InstancesTable({
  instances,
  base,
  showHost = true,
}: {
  instances: InstanceView[];
  base: string | null;
  showHost?: boolean;
}) {
  if (instances.length === 0) {
    return html`<${Empty} title="Nothing runs here yet.">Deploy a release to a cluster and its instances show here.</${Empty}>`;
  }
  const now = Date.now();
  const rows = [...instances].sort((a, b) => (a.tag + a.host + a.process).localeCompare(b.tag + b.host + b.process));
  return html`<div class="table-wrap"><table class="instances-table">
    <thead><tr>${showHost ? html`<th>host</th>` : null}<th>cluster</th><th>process</th><th>version</th><th>state</th><th>uptime</th><th>restarts</th><th>pid</th><th>port</th><th>error</th></tr></thead>
    <tbody>${rows.map(
      (i) => html`<tr key=${`${i.host} ${i.tag} ${i.process}`} class=${i.state === 'up' ? '' : 'row-bad'} data-host=${i.host}>
      ${showHost ? html`<td class="mono">${i.host}</td>` : null}
      <td><${TagLink} tag=${i.tag} text=${below(i.tag, base) || i.tag.split('_').pop()} /></td>
      <td class="mono">${i.process}</td>
      <td class="mono version">${i.version}</td>
      <td><${Badge} status=${i.state} />${i.health && i.health !== 'healthy' ? html` <span class="small warn" title=${i.healthError ?? ''}>${i.health}</span>` : null}</td>
      <td>${i.state === 'up' && i.startedAt ? duration(i.startedAt, null, now) : '-'}</td>
      <td class=${i.restarts > 0 ? 'warn num' : 'num'}>${i.restarts}</td>
      <td class="mono muted num">${i.pid ?? '-'}</td>
      <td class="mono muted num">${i.port ?? '-'}</td>
      <td class="error-text">${i.error ?? i.healthError ?? ''}</td>
    </tr>`,
    )}</tbody>
  </table></div>`;
}

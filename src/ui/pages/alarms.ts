/**
 * The alarms page (`#/alarms`): the PROBLEM events of series still in trouble (the default), or
 * every event with the switch; priority (P0 highest, Falcon's), status, the value that crossed,
 * age, acknowledgement (the button only for a token that may: deployer on the alarm's node: the instance's, or for a host's or pushed series the strategy's),
 * and a link to the series' chart around the event.
 */
import { useState } from 'preact/hooks';
import { ackAlarm, listAlarms, seriesKey, type AlarmView } from '../../api/index.js';
import { formatTag, LEVELS, parseSelector } from '../../tree/index.js';
import { html } from '../html.js';
import { useLoad } from '../load.js';
import { href, type AlarmsQuery } from '../routes.js';
import { ago, when } from '../format.js';
import { may, type Role, type Who } from '../permissions.js';
import { Empty, ErrorBox, Loading, Section, useApi, useWho } from '../widgets.js';
import { eventSeconds, selectorOfTags, shortNumber, tagString } from '../chart-data.js';

/** Alarms are re-read this often: a new PROBLEM shows within seconds. */
export const ALARMS_REFRESH_MS = 5000;

/** The most alarms listed. */
export const ALARMS_LIMIT = 500;

/** The role acknowledging an alarm needs on its node, as for the other buttons that change something. */
export const ACK_NEEDS: Role = 'deployer';

/** The alarms the list asks for: PROBLEM of series still in trouble (the default), OK, or every event. */
export type AlarmStatusFilter = 'problem' | 'ok' | 'all';

/** Seconds of history the chart link shows on each side of an event. */
const AROUND_SECONDS = 1800;

function go(to: string): void {
  location.hash = to;
}

/**
 * Whether `who` may acknowledge an alarm: deployer on the alarm's node, as the server decides it
 * (the instance's node its tags name; for a host's or a pushed series, the node of the strategy
 * that raised it); the admin token everywhere. The server stays the judge.
 */
export function mayAck(
  who: Pick<Who, 'kind' | 'scope' | 'role'>,
  alarm: Pick<AlarmView, 'tags'> & Partial<Pick<AlarmView, 'selector'>>,
): boolean {
  if (who.kind === 'admin') return may(who, 'cop.any', ACK_NEEDS);
  const node = tagOf(selectorOfTags(alarm.tags, LEVELS)) ?? tagOf(alarm.selector ?? '');
  return node !== undefined && may(who, node, ACK_NEEDS);
}

/** The tag a selector names, or undefined when it names no node (empty, or pairs skipping a level). */
function tagOf(selector: string): string | undefined {
  if (selector.trim() === '') return undefined;
  try {
    return formatTag(parseSelector(selector));
  } catch {
    return undefined;
  }
}

/** True when an alarm has been acknowledged (the server says who and when). */
export function isAcked(a: Pick<AlarmView, 'acknowledged'>): boolean {
  return a.acknowledged !== null;
}

/** Who acknowledged and when. */
function ackWords(ack: NonNullable<AlarmView['acknowledged']>): string {
  return `by ${ack.by} ${ago(ack.at, Date.now())}`;
}

export function AlarmsPage({ q }: { q: AlarmsQuery }) {
  const api = useApi();
  const who = useWho();
  const status: AlarmStatusFilter = q.status === 'all' || q.status === 'ok' ? q.status : 'problem';
  const [selector, setSelector] = useState(q.selector ?? '');
  const [acking, setAcking] = useState<string | null>(null);
  const [ackError, setAckError] = useState<Error | null>(null);
  const list = useLoad(
    () => listAlarms(api, { status, selector: q.selector, limit: ALARMS_LIMIT }),
    [status, q.selector],
    ALARMS_REFRESH_MS,
  );
  document.title = 'alarms · noops';
  const alarms = list.data?.alarms ?? [];
  const ack = async (id: number): Promise<void> => {
    setAcking(String(id));
    setAckError(null);
    try {
      await ackAlarm(api, id);
      list.reload();
    } catch (err) {
      setAckError(err as Error);
    } finally {
      setAcking(null);
    }
  };
  const now = Date.now();
  const switcher = html`<div class="range-buttons" role="group" aria-label="which alarms">
    <button type="button" class="small" aria-pressed=${status === 'problem' ? 'true' : 'false'} onClick=${() => go(href.alarms({ selector: q.selector }))}>In trouble</button>
    <button type="button" class="small" aria-pressed=${status === 'all' ? 'true' : 'false'} onClick=${() => go(href.alarms({ status: 'all', selector: q.selector }))}>All events</button>
  </div>`;
  return html`<div class="page alarms-page">
    <header class="page-head">
      <h1>Alarms</h1>
      <p class="summary">${
        status === 'problem'
          ? `${alarms.length} ${alarms.length === 1 ? 'series' : 'series'} in trouble`
          : `${alarms.length} events, newest first`
      }${q.selector ? html` · under <span class="mono">${q.selector}</span>` : null}</p>
    </header>
    <form class="panel finder" aria-label="filter alarms" onSubmit=${(e: Event) => {
      e.preventDefault();
      go(href.alarms({ status: q.status, selector: selector.trim() }));
    }}>
      <label class="field" for="a-selector"><span>Selector</span><input id="a-selector" value=${selector} placeholder="cop=acme,owt=web"
        onInput=${(e: Event) => setSelector((e.target as HTMLInputElement).value)} /></label>
      <button type="submit">Filter</button>
      ${switcher}
    </form>
    ${ackError ? html`<${ErrorBox} error=${ackError} />` : null}
    <${Section} title=${status === 'problem' ? 'In trouble now' : 'Every event'}>
      ${list.error ? html`<${ErrorBox} error=${list.error} retry=${list.reload} />` : null}
      ${
        !list.data
          ? list.error
            ? null
            : html`<${Loading} what="the alarms" />`
          : alarms.length === 0
            ? html`<${Empty} title=${status === 'problem' ? 'Nothing is in trouble.' : 'No alarm events yet.'}>Strategies (<code>noops strategy add</code>) raise a PROBLEM when a series crosses them, and an OK when it recovers.</${Empty}>`
            : html`<div class="table-wrap"><table class="alarms-table">
          <thead><tr><th>priority</th><th>status</th><th>host</th><th>metric</th><th>tags</th><th>value</th><th>step</th><th>when</th><th>note</th><th>acknowledged</th><th></th></tr></thead>
          <tbody>${alarms.map((a) => {
            const id = String(a.id);
            const ts = eventSeconds(a.eventTime);
            const iso = Number.isFinite(ts) ? new Date(ts * 1000).toISOString() : null;
            const tags = tagString(a.tags);
            const chart = href.metrics({
              key: seriesKey(a.endpoint, a.metric, tags),
              from: ts - AROUND_SECONDS,
              to: Math.max(ts + AROUND_SECONDS, Math.floor(now / 1000)),
            });
            return html`<tr key=${id} data-alarm=${id} data-status=${a.status} data-acked=${isAcked(a) ? 'true' : 'false'} class=${a.status === 'PROBLEM' && !isAcked(a) ? 'row-bad' : ''}>
              <td><span class=${`prio prio-${Math.min(a.priority, 6)}`} title="Falcon's priority: 0 is the highest">P${a.priority}</span></td>
              <td><span class=${`badge ${a.status === 'OK' ? 'badge-ok' : 'badge-down'}`}>${a.status}</span>${a.silenced ? html` <span class="muted small">silenced</span>` : null}</td>
              <td class="mono">${a.endpoint}</td>
              <td class="mono">${a.metric}</td>
              <td class="mono small tags-cell">${tags}</td>
              <td class="mono small" title=${`strategy ${a.strategy}`}>${shortNumber(a.leftValue)}${a.func ? ` ${a.func} ${a.op} ${a.right}` : ''}</td>
              <td class="num">${a.currentStep}</td>
              <td>${iso ? html`<time datetime=${iso} title=${when(iso)}>${ago(iso, now)}</time>` : '-'}</td>
              <td class="small">${a.note}</td>
              <td>${a.acknowledged ? html`<span class="ok small">${ackWords(a.acknowledged)}</span>` : html`<span class="muted small">no</span>`}</td>
              <td class="actions">
                <a href=${chart}>chart</a>
                ${!isAcked(a) && a.status === 'PROBLEM' && mayAck(who, a) ? html` <button type="button" class="small" disabled=${acking === id} onClick=${() => ack(a.id)}>Acknowledge</button>` : null}
              </td>
            </tr>`;
          })}</tbody>
        </table></div>`
      }
    </${Section}>
  </div>`;
}

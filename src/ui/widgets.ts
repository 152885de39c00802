/** Small pieces every page uses: health dots, status badges, times, empty and error states. */
import { createContext, type ComponentChildren } from 'preact';
import { useContext } from 'preact/hooks';
import type { Health } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import type { ConsoleApi } from './api.js';
import { may, type Role, type Who } from './permissions.js';
import { html } from './html.js';
import { ago, when } from './format.js';
import { href } from './routes.js';

/** The window event a page sends when it changed something (a deploy started or ended), so
 * the other views (the tree) read again at once. */
export const CHANGED = 'noops:changed';

/** Tells the other views that something changed. */
export function announceChange(): void {
  dispatchEvent(new Event(CHANGED));
}

/** The signed-in API client, for every page. */
export const ApiContext = createContext<ConsoleApi | null>(null);

export function useApi(): ConsoleApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside the signed-in console');
  return api;
}

/** Who is signed in (whoami), for every page. */
export const WhoContext = createContext<Who | null>(null);

export function useWho(): Who {
  const who = useContext(WhoContext);
  if (!who) throw new Error('useWho outside the signed-in console');
  return who;
}

/** Whether the signed-in token has `need` on `tag` (see permissions.ts). */
export function useMay(tag: string, need: Role): boolean {
  return may(useWho(), tag, need);
}

const HEALTH_WORDS: Record<Health, string> = {
  ok: 'every host and instance is up',
  degraded: 'some hosts or instances are not up',
  down: 'nothing under it is up',
  idle: 'nothing runs here',
};

/** A coloured dot for a node's health, with the word for screen readers and tooltips. */
export function Dot({ health }: { health: Health }) {
  return html`<span class=${`dot dot-${health}`} title=${`${health}: ${HEALTH_WORDS[health]}`} role="img" aria-label=${health}></span>`;
}

/** A status word in a coloured badge: up, down, running, succeeded, failed, ... */
export function Badge({ status, title }: { status: string; title?: string }) {
  return html`<span class=${`badge badge-${status.replace(/[^a-z_]/g, '')}`} title=${title ?? ''}>${status.replace('_', ' ')}</span>`;
}

/** "3m ago", with the exact local time on hover. */
export function Ago({ iso }: { iso: string | null }) {
  return iso ? html`<time datetime=${iso} title=${when(iso)}>${ago(iso, Date.now())}</time>` : html`<span class="muted">never</span>`;
}

/** A tag, in monospace, linked to its node's page. */
export function TagLink({ tag, text }: { tag: string; text?: string }) {
  return html`<a class="tag" href=${href.node(tag)}>${text ?? tag}</a>`;
}

/** What a page shows when there is nothing to show, and what to do about it. */
export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return html`<div class="empty"><p class="empty-title">${title}</p>${children ? html`<p>${children}</p>` : null}</div>`;
}

/** An error from the API: what went wrong, how to fix it, and a retry. */
export function ErrorBox({ error, retry }: { error: Error; retry?: () => void }) {
  const hint = error instanceof NoopsError ? error.hint : '';
  const code = error instanceof NoopsError ? error.code : '';
  return html`<div class="error" role="alert">
    <p><strong>${error.message}</strong></p>
    ${hint ? html`<p class="hint">${hint}</p>` : null}
    <p class="muted small">${code}${retry ? html` <button class="link" onClick=${retry}>Try again</button>` : null}</p>
  </div>`;
}

export function Loading({ what }: { what: string }) {
  return html`<p class="loading" aria-busy="true">Loading ${what}…</p>`;
}

/** A section of a page with a heading and an optional line of actions on its right. */
export function Section({
  title,
  id,
  actions,
  children,
}: {
  title: string;
  id?: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  return html`<section class="panel" id=${id}>
    <header class="panel-head"><h2>${title}</h2>${actions ? html`<div class="panel-actions">${actions}</div>` : null}</header>
    ${children}
  </section>`;
}

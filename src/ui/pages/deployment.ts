/** One deployment on its own page (`#/d/ID`): a link to share while it runs, or to read later. */
import { html } from '../html.js';
import { LiveDeployment } from './live.js';

export function DeploymentPage({ id }: { id: number }) {
  document.title = `deployment #${id} · noops`;
  return html`<div class="page"><${LiveDeployment} key=${id} id=${id} standalone=${true} /></div>`;
}

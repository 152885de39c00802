/** Signing in with a token: nothing is shown or done without one. */
import { useState } from 'preact/hooks';
import { ApiClient } from '../../api/index.js';
import { html } from '../html.js';
import { consoleRefusal } from '../session.js';
import type { Who } from '../permissions.js';

export type { Who };

/**
 * Asks the server who a token is (once per sign-in: the role and scope do not change while a
 * token lives); answers the person, or throws why it cannot be used.
 */
export async function checkToken(token: string): Promise<Who> {
  const who = await new ApiClient(location.origin, token).whoami();
  const refusal = consoleRefusal(who.kind);
  if (refusal) throw new Error(refusal);
  return who;
}

export function LoginPage({ notice, onSignedIn }: { notice: string | null; onSignedIn: (token: string, who: Who) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  document.title = 'sign in · noops';
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const t = token.trim();
      onSignedIn(t, await checkToken(t));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login">
    <form class="login-box" onSubmit=${submit}>
      <h1>noops</h1>
      <p class="muted">Sign in with an admin or team token. The server keeps its admin token in <code>admin.token</code> in its data folder; <code>noops server</code> prints a command that opens the console signed in.</p>
      ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
      <label for="token">Token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required autofocus value=${token}
        onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} />
      ${error ? html`<p class="error-text" role="alert">${error}</p>` : null}
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Checking…' : 'Sign in'}</button>
    </form>
  </main>`;
}

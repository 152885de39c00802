/**
 * The console's entry: takes the token (from `?token=` once, or the session), checks it with
 * the server, and shows the console or the login form.
 */
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { html } from './html.js';
import { ConsoleApi } from './api.js';
import { forgetToken, keepToken, refusedNotice, takeToken } from './session.js';
import { App } from './app.js';
import { checkToken, LoginPage, type Who } from './pages/login.js';
import { ErrorBox } from './widgets.js';
import { NoopsError } from '../errors/index.js';

function Root() {
  const [token, setToken] = useState<string | null>(() =>
    takeToken({
      href: location.href,
      storage: sessionStorage,
      replace: (url) => history.replaceState(history.state, '', url),
    }),
  );
  const [who, setWho] = useState<Who | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);

  const signOut = (message: string | null): void => {
    forgetToken(sessionStorage);
    setToken(null);
    setWho(null);
    setNotice(message);
  };
  const api = useMemo(() => (token ? new ConsoleApi(token, (reason) => signOut(refusedNotice(reason))) : null), [token]);

  // A kept token is checked once; a refused one leads back to the form.
  useEffect(() => {
    if (!token || who) return;
    checkToken(token).then(setWho, (err: Error) => {
      if (err instanceof NoopsError && err.code === 'NOOPS_E_SERVER_UNREACHABLE') return setError(err);
      // A kept token that stopped working since (revoked, expired) says so, as one that stops while the page is open.
      signOut(err instanceof NoopsError && err.code === 'NOOPS_E_UNAUTHORIZED' ? refusedNotice(err.message) : err.message);
    });
  }, [token]);

  if (!token || !api) {
    return html`<${LoginPage} notice=${notice} onSignedIn=${(t: string, w: Who) => {
      keepToken(sessionStorage, t);
      setNotice(null);
      setWho(w);
      setToken(t);
    }} />`;
  }
  if (error)
    return html`<main class="login"><div class="login-box"><h1>noops</h1><${ErrorBox} error=${error} retry=${() => location.reload()} /></div></main>`;
  if (!who) return html`<main class="login"><p class="loading">Signing in…</p></main>`;
  return html`<${App} api=${api} who=${who} signOut=${() => signOut('Signed out.')} />`;
}

render(html`<${Root} />`, document.getElementById('app')!);

/**
 * The console's API client: the typed `ApiClient` the CLI uses, against the page's own origin,
 * with the user's token. A refused token (401: revoked, expired, or from another server) signs
 * the user out, back to the login form with the server's reason, whichever call met it first:
 * a page's read, a button's change, or a deployment's event stream.
 */
import { ApiClient, type RequestOptions } from '../api/index.js';

export class ConsoleApi extends ApiClient {
  private refused = false;

  constructor(
    token: string,
    private readonly onRefused: (message: string) => void,
    origin = location.origin,
  ) {
    super(origin, token);
  }

  // Every call, JSON or stream, goes through raw(): one place to notice a 401.
  override async raw(method: string, path: string, body?: unknown, opts?: RequestOptions): Promise<Response> {
    const res = await super.raw(method, path, body, opts);
    if (res.status === 401 && !this.refused) {
      this.refused = true;
      // A copy: the caller still reads the body and throws NOOPS_E_UNAUTHORIZED as usual.
      this.onRefused(await reasonOf(res.clone()));
    }
    return res;
  }
}

/** The server's message in a 401's body, or the status when the body says nothing. */
async function reasonOf(res: Response): Promise<string> {
  const fallback = `the server answered HTTP ${res.status}`;
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    return `${fallback} (its body could not be read: ${(err as Error).message})`;
  }
  try {
    const body = JSON.parse(text) as { message?: unknown };
    return typeof body.message === 'string' ? body.message : fallback;
  } catch {
    return fallback;
  }
}

/**
 * The console's API client: the typed `ApiClient` the CLI uses, against the page's own origin,
 * with the user's token. A refused token signs the user out (back to the login form).
 */
import { ApiClient, type RequestOptions } from '../api/client.js';
import { NoopsError } from '../errors/index.js';

export class ConsoleApi extends ApiClient {
  constructor(token: string, private readonly onRefused: (message: string) => void, origin = location.origin) {
    super(origin, token);
  }

  override async request<R>(method: string, path: string, body?: unknown, opts?: RequestOptions): Promise<R> {
    try {
      return await super.request<R>(method, path, body, opts);
    } catch (err) {
      if (err instanceof NoopsError && err.code === 'NOOPS_E_UNAUTHORIZED') this.onRefused(err.message);
      throw err;
    } 
  }
}

/**
 * The one query-string helper of the API clients and the console's addresses: the pairs with a
 * value, in order; undefined and '' leave a pair out (no filter), numbers are written as numbers.
 *
 * @example
 *   queryString({ status: 'all', selector: '', limit: 500 }) // '?status=all&limit=500'
 *   queryString({}) // ''
 */
export function queryString(params: Readonly<Record<string, string | number | undefined>>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const text = q.toString();
  return text === '' ? '' : `?${text}`;
}

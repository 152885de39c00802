/**
 * The plan of a rollout: which hosts go in which batch. Pure.
 */
import { NoopsError } from '../errors/index.js';
import { amountOf } from './deploy-policy.js';

/**
 * Splits `hosts` into batches, in their order. Each size of `steps` is a host count or a
 * percentage of all the hosts (rounded up, at least one); the last size repeats until every
 * host has a batch. With `canary` hosts, they are the first batch and stand for its size: the
 * other hosts follow with the sizes from the second on.
 *
 * @example
 *   planBatches(['a', 'b', 'c', 'd', 'e'], [1, '50%'])        // [['a'], ['b', 'c', 'd'], ['e']]
 *   planBatches(['a', 'b', 'c', 'd'], [1, '100%'], ['c'])     // [['c'], ['a', 'b', 'd']]
 * @throws NoopsError NOOPS_E_INPUT when a canary host is not in the cluster
 */
export function planBatches(hosts: readonly string[], steps: readonly (number | string)[], canary: readonly string[] = []): string[][] {
  if (steps.length === 0) throw new NoopsError('NOOPS_E_INPUT', 'a batch policy needs at least one size');
  const unknown = canary.filter((h) => !hosts.includes(h));
  if (unknown.length > 0) {
    throw new NoopsError('NOOPS_E_INPUT', `canary host(s) ${unknown.join(', ')} are not in the cluster (its hosts: ${hosts.join(', ')})`);
  }
  const batches: string[][] = [];
  const canarySet = new Set(canary);
  let rest = hosts.filter((h) => !canarySet.has(h));
  let step = 0;
  if (canary.length > 0) {
    batches.push([...new Set(canary)]);
    step = steps.length > 1 ? 1 : 0;
  }
  while (rest.length > 0) {
    const size = Math.max(1, amountOf(steps[Math.min(step, steps.length - 1)]!, hosts.length, 'up'));
    batches.push(rest.slice(0, size));
    rest = rest.slice(size);
    step++;
  }
  return batches;
}

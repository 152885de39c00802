/**
 * The service tree: tags (`cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api_cluster.prod`),
 * selectors (`cop=xiaomi,pdl=im`), the tree they name, and each node's health from counts of what
 * runs under it. Pure: no I/O, and nothing of ours but the error registry, so every part of noops may use it.
 *
 * @example
 *   import { canonicalTag, parseSelector, matches } from '../tree/index.js';
 *   const tag = canonicalTag('job.api_service.ack_pdl.im_owt.miliao_cop.xiaomi');
 *   matches(parseSelector('pdl=im'), tag); // true
 */
export { LEVELS, MAX_VALUE_LENGTH, type Level } from './levels.js';
export {
  ancestorsAndSelf,
  canonicalTag,
  formatTag,
  isCanonicalTag,
  isComplete,
  isUnder,
  levelOf,
  parentOf,
  parseTag,
  truncateTo,
  valueOf,
  withPair,
  type Tag,
  type TagPair,
} from './tag.js';
export { formatSelector, matches, parseSelector, type Selector } from './selector.js';
export { resolveTag } from './resolve.js';
export { buildTree, renderTree, type TreeNode } from './tree.js';
export { annotateTree, healthByTag, healthOf, type Health, type HealthInput, type HealthTreeNode, type NodeHealth } from './health.js';

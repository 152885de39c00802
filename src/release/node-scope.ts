/** Running release code the same way wherever it is unpacked. */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Node.js decides whether a `.js` file is CommonJS or an ES module from the nearest package.json
 * above it. Without a fence, a release unpacked under a folder whose package.json says
 * `"type": "module"` (e.g. an agent root inside a project) would run differently than anywhere
 * else. A neutral package.json at the root makes every release behave as it does on its own.
 */
export function fenceNodePackageScope(root: string): void {
  const file = join(root, 'package.json');
  if (existsSync(file)) return;
  writeFileSync(
    file,
    `${JSON.stringify({ name: 'noops-agent-root', private: true, description: 'Written by noops: code below this folder is not affected by any package.json above it.' }, null, 2)}\n`,
  );
}

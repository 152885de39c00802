/**
 * The app the rollout tests deploy: a Node.js web server and a deploy test, in a real git
 * repository. Each commit can make the server never listen on one host (a failing health
 * check) or make its deploy test fail.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { git } from './harness.js';

export interface CommitOptions {
  /** the server never listens when its release folder's path contains this (e.g. "agent-h2") */
  silentOn?: string;
  /** the deploy test fails */
  failTests?: boolean;
}

/** The line a deploy-test run prints first: its record as JSON (the sandboxed test can write nowhere else). */
export const RECORD_PREFIX = 'deploy-test-record ';

/** A repository whose commits are releases; each deploy-test run prints a {@link RECORD_PREFIX} line. */
export function makeRolloutRepo(dir: string): { commit(greeting: string, opts?: CommitOptions): string } {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q');
  writeFileSync(
    join(dir, 'noops.yaml'),
    [
      'test: node -e "console.log(\'unit tests pass\')"',
      'processes:',
      '  web:',
      '    command: node server.js',
      '    start_grace: 0.5',
      'deploy_tests: node deploy-test.js',
      '',
    ].join('\n'),
  );
  return {
    commit(greeting, opts = {}) {
      writeFileSync(
        join(dir, 'server.js'),
        `
const http = require('http');
const greeting = ${JSON.stringify(greeting)};
const silentOn = ${JSON.stringify(opts.silentOn ?? null)};
if (silentOn && (process.env.NOOPS_RELEASE_DIR || '').includes('/' + silentOn + '/')) {
  setInterval(() => {}, 1 << 30); // alive, but never accepts a connection
} else {
  http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ greeting, version: process.env.NOOPS_VERSION, kind: process.env.NOOPS_DEPLOY_KIND }));
  }).listen(Number(process.env.PORT), '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
`,
      );
      writeFileSync(
        join(dir, 'deploy-test.js'),
        `
const instances = (process.env.NOOPS_INSTANCES || '').split(',').filter(Boolean);
(async () => {
  const got = [];
  for (const i of instances) got.push((await (await fetch('http://' + i + '/')).json()).greeting);
  console.log(${JSON.stringify(RECORD_PREFIX)} + JSON.stringify({ batch: process.env.NOOPS_BATCH, version: process.env.NOOPS_VERSION, instances, got }));
  if (${opts.failTests ? 'true' : 'false'}) { console.log('deploy test: ' + ${JSON.stringify(greeting.split(' ').pop())} + ' is refused'); process.exit(1); }
})();
`,
      );
      git(dir, 'add', '-A');
      git(dir, 'commit', '-q', '-m', greeting);
      return git(dir, 'rev-parse', 'HEAD');
    },
  };
}

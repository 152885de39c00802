/**
 * `--build-sandbox auto` on a host whose Docker Engine answers, end to end: a real server (root,
 * as on a build machine) picks the container kind and its build image; a node job (npm ci, npm run
 * build) and a build.sh job (cc and python3 of the host) are built from git inside throwaway
 * containers with the host's toolchain, their deploy test reaches the instances on the host's
 * address from its container (the network bubblewrap's steps have), and both are deployed by a
 * real agent and answer. Skipped when not root or when no engine answers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ApiClient } from '../../src/api/index.js';
import type { BuildView } from '../../src/api/index.js';
import { connectEngine, ownedFilter } from '../../src/engine/index.js';
import {
  cleanup,
  cli,
  commitFiles,
  freePort,
  getJson,
  killSupervised,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const NODE_JOB = 'cop.acme_owt.web_pdl.shop_service.ctrbuild_job.web';
const SH_JOB = 'cop.acme_owt.web_pdl.shop_service.ctrbuild_job.tools';
const root = process.getuid?.() === 0;
const engine = await connectEngine().catch(() => undefined);
const skip = !root || !engine ? 'needs root and the Docker Engine' : false;

const base = tmp('build-sandbox-container');
const data = join(base, 'server');
const agentRoot = join(base, 'agent-h1');
let server: ServerProc | undefined;
let agent: Proc | undefined;

after(async () => {
  await agent?.stop();
  await server?.stop();
  killSupervised(agentRoot);
  cleanup([base]);
});

/** What every build step prints about where it runs: its cgroup (the engine's) and memory limit. */
const WHERE = `echo "cgroup=$(grep -o 'docker/[0-9a-f]*' /proc/self/cgroup | head -1 | cut -c1-14)"
echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo "uid=$(id -u)"
`;

/** A deploy test: every instance answers, reached from the test's container at the host's address. */
const CHECK = `const list = (process.env.NOOPS_INSTANCES || '').split(',').filter(Boolean);
if (list.length === 0) { console.log('no instances'); process.exit(2); }
Promise.all(list.map((a) => fetch('http://' + a + '/').then((r) => r.text()))).then(
  (t) => { console.log('deploy test reached', list.join(' '), t.join(' ')); },
  (e) => { console.log('deploy test failed', e.message); process.exit(1); },
);
`;

const SERVER = `const http = require('http');
const fs = require('fs');
const body = fs.readFileSync('answer.txt', 'utf8').trim();
http.createServer((q, s) => s.end(JSON.stringify({ answer: body }))).listen(Number(process.env.PORT), '127.0.0.1');
`;

async function finished(api: ApiClient, id: number): Promise<BuildView & { log: string }> {
  const done = await until(
    `build #${id}`,
    async () => {
      const p = await api.build(id);
      return p.build.status !== 'running' && p;
    },
    180_000,
    200,
  );
  return { ...done.build, log: done.log };
}

test('--build-sandbox auto builds a node and a build.sh job in containers of the build image, and they deploy', { skip }, async (t) => {
  server = await startServer(data, await freePort(), ['--build-sandbox', 'auto']);
  const api = new ApiClient(server.url, server.adminToken);
  assert.match(server.output(), /builds and deploy tests run in throwaway containers of noops-build:[0-9a-f]{12} .*--build-sandbox auto/);
  agent = startAgent(server, agentRoot, 'h1');
  await until('h1 up', async () => (await api.hosts()).some((h) => h.name === 'h1' && h.status === 'up'), 30_000);

  const jobs: [string, string, string][] = [];
  await t.test('a node job: npm ci and npm run build in a container, with the host node and npm', async () => {
    const repo = join(base, 'repo-node');
    commitFiles(
      repo,
      {
        'package.json': JSON.stringify({ name: 'ctr-app', version: '1.0.0', scripts: { build: 'sh where.sh && node build.js' } }),
        'package-lock.json': JSON.stringify({
          name: 'ctr-app',
          version: '1.0.0',
          lockfileVersion: 3,
          requires: true,
          packages: { '': { name: 'ctr-app', version: '1.0.0' } },
        }),
        'where.sh': WHERE,
        'build.js': `require('fs').writeFileSync('answer.txt', 'built by node ' + process.version + ' as ' + process.getuid());\n`,
        'server.js': SERVER,
        'check.js': CHECK,
        Procfile: 'web: node server.js\n',
        'noops.yaml': 'deploy_tests: node check.js\n',
      },
      'node app',
    );
    const b = await finished(api, (await api.startBuild({ repo, tag: NODE_JOB, ref: 'main' })).id);
    assert.equal(b.status, 'succeeded', b.log);
    assert.match(b.log, /npm ci --no-audit --no-fund/);
    assert.match(b.log, /^cgroup=docker\/[0-9a-f]{7}$/m, `the step ran in a container of the engine\n${b.log}`);
    assert.match(b.log, /^memory=4294967296$/m, "the container's memory limit");
    assert.match(b.log, /^uid=61\d\d\d$/m);
    jobs.push([NODE_JOB, `${NODE_JOB}_cluster.prod`, `built by node ${process.version} as 61`]);
  });

  await t.test('a build.sh job: the host cc and python3 in a container', async () => {
    const repo = join(base, 'repo-sh');
    commitFiles(
      repo,
      {
        'build.sh': `${WHERE}cc -o hello hello.c\n./hello > answer.txt\npython3 -c 'import sys; print("and python", sys.version_info[0])' >> answer.txt\n`,
        'hello.c': '#include <stdio.h>\nint main(void) { printf("compiled by cc\\n"); return 0; }\n',
        'server.js': SERVER,
        'check.js': CHECK,
        Procfile: 'web: node server.js\n',
        'noops.yaml': 'deploy_tests: node check.js\n',
      },
      'build.sh app',
    );
    const b = await finished(api, (await api.startBuild({ repo, tag: SH_JOB, ref: 'main' })).id);
    assert.equal(b.status, 'succeeded', b.log);
    assert.match(b.log, /^cgroup=docker\/[0-9a-f]{7}$/m, b.log);
    jobs.push([SH_JOB, `${SH_JOB}_cluster.prod`, 'compiled by cc\nand python 3']);
  });

  await t.test('both deploy; their deploy tests reach the instances from a container; they answer', async () => {
    for (const [job, cluster, answer] of jobs) {
      assert.equal((await cli(server!, ['cluster', 'set', '-t', cluster, '--hosts', 'h1'])).code, 0);
      const version = (await api.releases(job))[0]!.version;
      const r = await cli(server!, ['deploy', '-t', cluster, '-v', version]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const d = (await api.history(cluster, 1))[0]!;
      const output = d.progress!.tests.map((x) => x.commands.map((c) => c.output).join('')).join('');
      assert.match(output, /^deploy test reached 127\.0\.0\.1:\d+ /m, output);
      const [instance] = await api.instances(cluster);
      const got = await getJson<{ answer: string }>(`http://127.0.0.1:${instance!.port}/`);
      assert.ok(got.answer.startsWith(answer), `${got.answer} starts with ${answer}`);
    }
  });

  await t.test('no step container of this server is left', async () => {
    // other servers' builds may run meanwhile: ours are those that bind a folder of our data folder
    const ours = (await engine!.listContainers({ all: true, filters: ownedFilter() })).filter(
      (c) => c.Labels['noops.build'] !== undefined && c.Mounts.some((m) => m.Source.startsWith(`${data}/`)),
    );
    assert.deepEqual(ours, []);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envProblems, type EnvHost } from './check-env.js';

const x64 = { os: 'linux', arch: 'x64' };
const ok = { platform: 'linux/x64', canInstall: true, reason: null, installed: [] };
const catalog = {
  node: [
    { version: '18.20.4', platform: 'linux/x64' },
    { version: '22.23.3', platform: 'linux/x64' },
  ],
  tool: [{ version: '1.0', platform: 'linux/arm64' }],
  jar: [{ version: '2', platform: 'any' }],
};

test('nothing needed, or everything known and installable: no problem', () => {
  const hosts: EnvHost[] = [
    { name: 'h1', labels: x64, report: { runtimes: ok } },
    { name: 'h2', labels: x64 },
  ];
  assert.deepEqual(envProblems({}, catalog, hosts), { unknown: [], unavailable: [] });
  assert.deepEqual(envProblems({ node: '18.20.4', jar: '2' }, catalog, hosts), { unknown: [], unavailable: [] });
});

test('an unknown runtime names the versions the server has', () => {
  assert.deepEqual(envProblems({ node: '99.0.0', go: '1.22' }, catalog, []).unknown, [
    'node 99.0.0 (known: node 18.20.4, 22.23.3)',
    'go 1.22 (this server has no go)',
  ]);
});

test('a host of another platform, without platform labels, or whose agent cannot install is named', () => {
  const hosts: EnvHost[] = [
    { name: 'h1', labels: x64, report: { runtimes: ok } },
    { name: 'h2', labels: {} },
    { name: 'h3', labels: x64, report: { runtimes: { ...ok, canInstall: false, reason: 'cannot write in /r/runtimes: EACCES' } } },
    { name: 'h4', labels: x64, report: {} },
  ];
  assert.deepEqual(envProblems({ tool: '1.0', jar: '2' }, catalog, hosts).unavailable, [
    'tool 1.0 on h1: it is for linux/arm64 and the host is linux/x64',
    'tool 1.0 on h2: it is for linux/arm64 and the host does not say its platform (labels os and arch; an agent of this version sets them when it joins)',
    'tool 1.0 on h3: its agent cannot install runtimes (cannot write in /r/runtimes: EACCES)',
    'tool 1.0 on h4: its agent does not install runtimes (an older noops agent: upgrade it)',
    'jar 2 on h3: its agent cannot install runtimes (cannot write in /r/runtimes: EACCES)',
    'jar 2 on h4: its agent does not install runtimes (an older noops agent: upgrade it)',
  ]);
});

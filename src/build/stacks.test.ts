/**
 * The standard build framework on small real repositories, one per stack: each is built into a
 * release and what the release runs is checked. Maven and Go run only where their toolchains
 * exist (as runtimes made from this machine's JDK and Maven; Go from a `go` on the PATH).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { runBuild } from './build.js';
import { Sandbox } from './test-repo.js';
import {
  hasCommand,
  jdkRuntimeTarball,
  mavenRuntimeTarball,
  NODE_18,
  NODE_22,
  nodeRuntimeTarball,
  TestCatalog,
} from '../runtimes/test-runtimes.js';
import { freePort } from '../net/index.js';

async function inSandbox(fn: (sb: Sandbox, catalog: TestCatalog) => Promise<void>): Promise<void> {
  const sb = await Sandbox.create();
  try {
    await fn(sb, new TestCatalog(join(sb.root, 'runtimes')));
  } finally {
    execFileSync('chmod', ['-R', 'u+w', sb.root]); // installed runtimes are read-only
    await sb.close();
  }
}

test('a static site: the release serves index.html and its files, and nothing else', () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ 'index.html': '<h1>hi</h1>\n', 'css/site.css': 'h1{}\n', '.env': 'SECRET=1\n' });
    const r = await runBuild({ ...sb.options(), ref: 'main' });
    assert.equal(r.manifest.stack, 'static');
    const dir = await sb.unpack(r.sha256);
    const port = await freePort();
    const child = spawn(process.execPath, ['.noops/static-server.mjs'], {
      cwd: dir,
      env: { PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      const get = async (path: string): Promise<[number, string, string | null]> => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        return [res.status, await res.text(), res.headers.get('content-type')];
      };
      assert.deepEqual(await get('/'), [200, '<h1>hi</h1>\n', 'text/html; charset=utf-8']);
      assert.deepEqual(await get('/css/site.css'), [200, 'h1{}\n', 'text/css; charset=utf-8']);
      for (const hidden of ['/manifest.json', '/.env', '/.noops/static-server.mjs', '/%2e%2e/%2e%2e/etc/passwd', '/nope.html']) {
        assert.equal((await get(hidden))[0], 404, hidden);
      }
    } finally {
      child.kill('SIGTERM');
    }
  }));

test("build.sh builds with its own HOME and TMPDIR: a second build never sees the first one's files", () =>
  inSandbox(async (sb) => {
    const script = [
      '#!/bin/sh',
      'set -e',
      'test ! -e "$HOME/left-by-a-build" || { echo "saw another build\'s HOME" >&2; exit 9; }',
      'test ! -e "$TMPDIR/left-by-a-build" || { echo "saw another build\'s TMPDIR" >&2; exit 9; }',
      'touch "$HOME/left-by-a-build" "$TMPDIR/left-by-a-build"',
      'echo built > out.txt',
    ].join('\n');
    await sb.repo.commit({ 'build.sh': `${script}\n`, Procfile: 'web: cat out.txt\n' });
    const first = await runBuild({ ...sb.options(), ref: 'main' });
    assert.equal(first.manifest.stack, 'shell+procfile');
    assert.equal(await readFile(join(await sb.unpack(first.sha256), 'out.txt'), 'utf8'), 'built\n');
    assert.match(sb.log.join(''), /^\$ \.\/build\.sh$/m);
    await runBuild({ ...sb.options(), ref: 'main' }); // fails with exit 9 if it sees the first build's files
  }));

test('a Node.js build runs with the runtime noops.yaml names (a prefix resolves to the newest), and the release records it', () =>
  inSandbox(async (sb, catalog) => {
    await catalog.add('node', NODE_18, nodeRuntimeTarball(NODE_18));
    await catalog.add('node', NODE_22, nodeRuntimeTarball(NODE_22));
    const pkg = {
      name: 'app',
      private: true,
      scripts: {
        build: "node -e \"require('fs').writeFileSync('built-with.txt', process.version + ' ' + process.env.NODE_HOME)\"",
        start: 'node server.js',
      },
    };
    await sb.repo.commit({ 'package.json': JSON.stringify(pkg), 'noops.yaml': 'runtimes: { node: "18" }\n' });
    const r = await runBuild({ ...sb.options(), ref: 'main', runtimes: catalog });
    assert.equal(r.manifest.stack, 'manifest+node');
    assert.deepEqual(r.manifest.runtimes, { node: NODE_18 });
    const nodeDir = join(sb.root, 'runtimes', 'node', NODE_18);
    assert.equal(await readFile(join(await sb.unpack(r.sha256), 'built-with.txt'), 'utf8'), `v${NODE_18} ${nodeDir}`);
    assert.match(sb.log.join(''), new RegExp(`noops: runtime node ${NODE_18} \\(sha256 [0-9a-f]{64}\\) at ${nodeDir}`));
  }));

test('a runtime the build needs and the server lacks fails the build; one only the release needs is recorded with a warning', () =>
  inSandbox(async (sb, catalog) => {
    await sb.repo.commit({ 'noops.yaml': 'runtimes: { node: "99.1.0" }\nbuild: "node --version"\nprocesses: { web: node s.js }\n' });
    await assert.rejects(runBuild({ ...sb.options(), ref: 'main', runtimes: catalog }), {
      code: 'NOOPS_E_RUNTIME_UNKNOWN',
      message: 'the build needs the runtime node 99.1.0, and this server has no node',
    });
    await sb.repo.commit({ 'noops.yaml': 'runtimes: { node: "99.1.0" }\nprocesses: { web: node s.js }\n' });
    const r = await runBuild({ ...sb.options(), ref: 'main', runtimes: catalog });
    assert.deepEqual(r.manifest.runtimes, { node: '99.1.0' });
    assert.match(
      sb.log.join(''),
      /noops: warning: the runtime node 99\.1\.0 is not known \(this server has no node\); deploys of this release are refused until it is added/,
    );
  }));

/** The plugins the test's pom names: no remote repository is reachable, so the local one must hold them. */
const MAVEN_PLUGINS = [
  ['maven-jar-plugin', '3.4.2'],
  ['maven-compiler-plugin', '3.13.0'],
  ['maven-resources-plugin', '3.3.1'],
  ['maven-surefire-plugin', '3.2.5'],
];
const pluginsHere = MAVEN_PLUGINS.every(([id, v]) =>
  existsSync(join(homedir(), '.m2', 'repository', 'org', 'apache', 'maven', 'plugins', id!, v!)),
);
const jdk = pluginsHere && hasCommand('mvn') ? jdkRuntimeTarball() : undefined;
const maven = jdk ? mavenRuntimeTarball() : undefined;
test(
  'Maven: the jdk and maven runtimes build the jar, the release runs it with the jdk',
  {
    skip:
      !jdk || !maven
        ? `needs mvn, jlink, /usr/share/maven and, in ~/.m2, ${MAVEN_PLUGINS.map(([id, v]) => `${id} ${v}`).join(', ')}`
        : false,
    timeout: 15 * 60_000,
  },
  () =>
    inSandbox(async (sb, catalog) => {
      await catalog.add('jdk', jdk!.version, jdk!.file);
      await catalog.add('maven', maven!.version, maven!.file);
      const plugin = (id: string, version: string, extra = ''): string =>
        `<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>${id}</artifactId><version>${version}</version>${extra}</plugin>`;
      // plugin versions this machine's local repository holds (no remote repository is reachable)
      const pom = `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>demo</groupId><artifactId>hello</artifactId><version>1.0</version>
<properties><maven.compiler.release>${jdk!.version}</maven.compiler.release><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
<build><plugins>${plugin('maven-jar-plugin', '3.4.2', '<configuration><archive><manifest><mainClass>demo.Main</mainClass></manifest></archive></configuration>')}
${plugin('maven-compiler-plugin', '3.13.0')}${plugin('maven-resources-plugin', '3.3.1')}${plugin('maven-surefire-plugin', '3.2.5')}</plugins></build></project>\n`;
      const main =
        'package demo;\npublic class Main { public static void main(String[] a) { System.out.println("hello from java " + Runtime.version().feature()); } }\n';
      await sb.repo.commit({ 'pom.xml': pom, 'src/main/java/demo/Main.java': main });
      const r = await runBuild({ ...sb.options(), ref: 'main', runtimes: catalog });
      assert.equal(r.manifest.stack, 'maven');
      assert.deepEqual(r.manifest.runtimes, { jdk: jdk!.version });
      assert.deepEqual(
        r.manifest.processes.map((p) => p.command),
        ['java -jar target/*.jar'],
      );
      const dir = await sb.unpack(r.sha256);
      const java = join(sb.root, 'runtimes', 'jdk', jdk!.version, 'bin', 'java');
      assert.equal(
        execFileSync('/bin/sh', ['-c', `"${java}" -jar target/*.jar`], { cwd: dir, encoding: 'utf8' }),
        `hello from java ${jdk!.version}\n`,
      );
      assert.match(sb.log.join(''), /^\$ mvn -B -DskipTests package$/m);
    }),
);

test(
  'Go: go build makes the binary the release runs',
  {
    skip: hasCommand('go', ['version'])
      ? false
      : 'no Go toolchain on this machine (`go` is not on the PATH), so there is no go runtime to build with',
  },
  () =>
    inSandbox(async (sb, catalog) => {
      const goroot = execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim();
      const version = execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' }).trim().replace(/^go/, '');
      const file = join(sb.root, 'go.tgz');
      execFileSync('tar', ['-czf', file, '-C', goroot, '.']);
      await catalog.add('go', version, file);
      await sb.repo.commit({
        'go.mod': 'module example.com/hello\n\ngo 1.20\n',
        'main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n',
      });
      const r = await runBuild({ ...sb.options(), ref: 'main', runtimes: catalog, env: { GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' } });
      assert.equal(r.manifest.stack, 'go');
      assert.equal(r.manifest.runtimes, undefined, 'the binary needs no runtime to run');
      assert.equal(execFileSync(join(await sb.unpack(r.sha256), 'app'), { encoding: 'utf8' }), 'hello from go\n');
    }),
);

/**
 * The module map, kept true by a test (issue 13). Every folder under src/ is a module; what
 * another folder may use of it is its `index.ts` (light: types, constants, pure code) and the
 * named second entries listed below (heavy parts: parsers with zod and yaml, tar, the database),
 * each also listed in the module's README. A module may use only the modules it is allowed to
 * (the layering in docs/architecture.md): the agent side never reaches the store or the server,
 * rollout never reaches the agent, and no lower layer reaches a higher one.
 *
 * The test reads the source files (static imports only, the way the compiler sees them) and
 * fails with every offending line, so a new deep import is caught in review, not months later.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/**
 * Which modules each module may import, lowest layers first. A module not listed here fails the
 * test: a new module states its place in the map when it lands.
 */
export const ALLOWED: Record<string, readonly string[]> = {
  errors: [],
  // tree -> bus: the stored tree hears other servers add nodes and forgets its node set (issue 14)
  tree: ['errors', 'store', 'bus'],
  tls: ['errors'],
  net: ['errors'],
  artifacts: ['errors'],
  release: ['errors', 'artifacts', 'tree', 'store'],
  supervisor: ['errors', 'net', 'release'],
  runtimes: ['errors', 'api', 'artifacts', 'release', 'store'],
  api: ['errors', 'release', 'rollout', 'runtimes', 'tls', 'tree'],
  secrets: ['errors', 'tree', 'release', 'api', 'store'],
  store: ['errors'],
  // engine: the host's Docker Engine (dockerode, loaded on first use), noops' labels, the base image, the build image (issue 17)
  engine: ['errors', 'api'],
  // the change bus: the server's caches and long polls hear every server's writes (issue 14)
  bus: ['errors'],
  // one leader per control loop, through leases in the store (issue 14); the server wires it to the loops
  lead: ['errors', 'store'],
  // build -> engine: the container sandbox runs each build step in a throwaway container (issue 17)
  build: ['errors', 'artifacts', 'release', 'runtimes', 'tree', 'api', 'net', 'store', 'engine'],
  // monitor -> bus: the read model names the hosts whose reports it stored, and reads the others' (issue 14)
  // monitor -> net: the VictoriaMetrics test kit (victoria/test-victoria.ts) takes a free port from the one shared helper
  monitor: ['errors', 'api', 'store', 'tree', 'release', 'bus', 'net'],
  rollout: ['errors', 'api', 'artifacts', 'build', 'release', 'runtimes', 'secrets', 'store', 'tree'],
  // swarm: packages peer to peer (issue 19): piece tables, tickets, the tracker, the peer server and the piece downloader
  swarm: ['errors', 'release'],
  agent: ['errors', 'api', 'artifacts', 'engine', 'net', 'release', 'runtimes', 'secrets', 'supervisor', 'swarm', 'tls', 'tree'],
  import: ['errors', 'api', 'artifacts', 'release', 'store', 'tree'],
  server: [
    'errors',
    'api',
    'artifacts',
    'balance',
    'build',
    'bus',
    'import',
    'lead',
    'monitor',
    'naming',
    'net',
    'network',
    'release',
    'rollout',
    'runtimes',
    'schedule',
    'secrets',
    'store',
    'swarm',
    'tls',
    'tree',
  ],
  // naming: who answers for a selector (HTTP, DNS) from the read model, and who depends on whom (issue 16)
  naming: ['errors', 'api', 'store', 'tree'],
  // balance: load-balancer pools from the read model (through naming's source), drain marks, the rollout's hooks (issue 16)
  balance: ['errors', 'api', 'bus', 'naming', 'rollout', 'store', 'tree'],
  // network: the containers' address pool and each host's subnet (issue 17); bus: a new pool told to every server
  network: ['errors', 'api', 'bus', 'store'],
  // cli -> monitor: `noops strategy test` runs the judge locally, through monitor/judge/index.ts (issue 15)
  cli: ['errors', 'agent', 'api', 'artifacts', 'monitor', 'net', 'release', 'runtimes', 'secrets', 'server', 'supervisor', 'tls', 'tree'],
  ui: ['errors', 'api', 'tree'],
  // schedule: the scheduler's filters, scorers and plans, pure (issue 18); the wire shapes come from api
  schedule: ['errors', 'api'],
};

/** Edges only tests may take (a parity test reads the server's rule to compare the console's with it). */
const TEST_ONLY: Record<string, readonly string[]> = {
  ui: ['server'],
  agent: ['build'],
  release: ['build'],
};

/**
 * Named second entries: files other modules may import besides `index.ts`, because they pull in
 * something heavy that most importers do not need. Each is listed in its module's README.
 */
export const ENTRIES: Record<string, readonly string[]> = {
  agent: ['ctl.ts', 'containers/index.ts'],
  artifacts: ['extract.ts', 'package-cache.ts'],
  build: ['build.ts', 'detect.ts', 'runner.ts'],
  bus: ['postgres.ts'],
  monitor: ['report-schema.ts', 'strategies/index.ts', 'judge/index.ts', 'victoria/index.ts', 'alarms/index.ts'],
  release: ['noops-yaml.ts', 'package.ts', 'signing.ts', 'defaults.ts', 'schedule.ts'],
  import: ['import.ts'],
  rollout: ['types.ts', 'controller.ts', 'cluster-conf.ts'],
  store: ['open.ts'],
  runtimes: ['inspect.ts', 'catalog.ts'],
  secrets: ['sealed.ts'],
  tls: ['server-tls.ts'],
  server: ['auth.ts'],
  tree: ['stored-tree.ts'],
};

/** Modules whose `index.ts` may pull in heavy packages: the programs at the top, and the database. */
const HEAVY_SURFACE_ALLOWED = new Set(['server', 'cli', 'ui']);

/**
 * Packages a light surface must not load: each costs memory and start-up time in every importer.
 * zod is not among them: a schema is pure code and the source of its type (one shape per concept),
 * and the agent loads it anyway to check what it is sent.
 */
const HEAVY_PACKAGES = [
  'tar',
  'yaml',
  'kysely',
  'better-sqlite3',
  'pg',
  'fastify',
  '@fastify/static',
  'node-forge',
  'undici',
  'commander',
  'cli-progress',
  // the agent's container driver and the build's container sandbox load it when they first talk to the engine (engine/engine.ts)
  'dockerode',
];

interface Import {
  file: string;
  line: number;
  spec: string;
  typeOnly: boolean;
  /** `import('...')`: loaded when called, not at import time */
  dynamic: boolean;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'node_modules' && name !== 'assets') walk(path, out);
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const IMPORT_RE = /^\s*(import|export)\s+(type\s+)?([^'";]*?\sfrom\s+)?'([^']+)'|import\(\s*'([^']+)'\s*\)/gm;

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[4] ?? m[5];
    const line = text.slice(0, m.index).split('\n').length;
    let typeOnly = m[2] !== undefined;
    const braces = m[0].match(/\{([^}]*)\}/);
    if (!typeOnly && braces && !/\*/.test(m[0].split('{')[0])) {
      const names = braces[1]
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      typeOnly = names.length > 0 && names.every((n) => n.startsWith('type '));
    }
    out.push({ file, line, spec, typeOnly, dynamic: m[5] !== undefined });
  }
  return out;
}

/** The module (top folder under src/) of a path, or null outside src/. */
function moduleOf(path: string): string | null {
  const rel = relative(SRC, path);
  if (rel.startsWith('..')) return null;
  const parts = rel.split('/');
  return parts.length > 1 ? parts[0] : null;
}

const isTestFile = (file: string): boolean => /\.test\.ts$/.test(file) || !file.startsWith(SRC);
/** Test kits (`test-*.ts`, `testing.ts`): entries for tests, benchmarks and other test kits only. */
const isTestKit = (path: string): boolean => /\/(test-[^/]+|testing)\.ts$/.test(path);

function target(file: string, spec: string): string {
  return resolve(dirname(file), spec).replace(/\.js$/, '.ts');
}

function problems(files: string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const from = moduleOf(file);
    for (const imp of importsOf(file)) {
      if (!imp.spec.startsWith('.')) continue;
      const to = target(file, imp.spec);
      const mod = moduleOf(to);
      if (mod === null || mod === from) continue;
      const where = `${relative(ROOT, file)}:${imp.line}`;
      const rel = relative(join(SRC, mod), to);
      const surface = rel === 'index.ts' || (ENTRIES[mod] ?? []).includes(rel) || (isTestKit(to) && (isTestFile(file) || isTestKit(file)));
      if (!surface) found.push(`${where}: imports ${mod}/${rel}; use ${mod}/index.ts (or a named entry of ${mod}, listed in its README)`);
      if (from !== null) {
        const allowed = ALLOWED[from];
        if (allowed === undefined)
          found.push(`${where}: the module ${from} is not in the module map (ALLOWED in src/architecture.test.ts)`);
        else if (!allowed.includes(mod) && !(isTestFile(file) && (TEST_ONLY[from] ?? []).includes(mod)))
          found.push(`${where}: ${from} may not import ${mod} (the module map in docs/architecture.md)`);
      }
    }
  }
  return found;
}

const sources = walk(SRC);
const outside = [...(existsSync(join(ROOT, 'bench')) ? walk(join(ROOT, 'bench')) : []), ...walk(join(ROOT, 'test'))];

test('every cross-module import goes through the module surface, along an allowed edge', () => {
  assert.deepEqual(problems(sources), []);
});

test('benchmarks and end-to-end tests use modules through their surfaces too', () => {
  assert.deepEqual(problems(outside), []);
});

test('every module is in the map, and the map names only modules that exist', () => {
  const modules = readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory());
  assert.deepEqual(
    modules.filter((m) => !(m in ALLOWED)),
    [],
  );
  assert.deepEqual(
    Object.keys(ALLOWED).filter((m) => !modules.includes(m)),
    [],
  );
});

test('every named entry exists and is listed in its module README', () => {
  for (const [mod, entries] of Object.entries(ENTRIES)) {
    const readme = join(SRC, mod, 'README.md');
    for (const e of entries) {
      assert.ok(existsSync(join(SRC, mod, e)), `${mod}/${e} is named as an entry but does not exist`);
      assert.ok(existsSync(readme) && readFileSync(readme, 'utf8').includes(e), `${mod}/README.md does not list its entry ${e}`);
    }
  }
});

/** The third-party packages a file loads at import time, following relative static imports. */
function heavyLoadedBy(entry: string): string[] {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const imp of importsOf(file)) {
      if (imp.typeOnly || imp.dynamic) continue;
      if (imp.spec.startsWith('.')) {
        const to = target(file, imp.spec);
        if (existsSync(to)) stack.push(to);
      } else if (!imp.spec.startsWith('node:')) {
        const name = imp.spec.startsWith('@') ? imp.spec.split('/').slice(0, 2).join('/') : imp.spec.split('/')[0];
        if (HEAVY_PACKAGES.includes(name)) packages.add(name);
      }
    }
  }
  return [...packages].sort();
}

test('module surfaces are light: no index.ts loads a heavy package', () => {
  const heavy: string[] = [];
  for (const mod of Object.keys(ALLOWED)) {
    const index = join(SRC, mod, 'index.ts');
    if (HEAVY_SURFACE_ALLOWED.has(mod) || !existsSync(index)) continue;
    const loaded = heavyLoadedBy(index);
    if (loaded.length > 0) heavy.push(`${mod}/index.ts loads ${loaded.join(', ')}: move that part to a named entry`);
  }
  assert.deepEqual(heavy, []);
});

/** Every source file a file loads at import time (relative static imports, types left out). */
function loadedBy(entry: string): string[] {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const imp of importsOf(file)) {
      if (imp.typeOnly || imp.dynamic || !imp.spec.startsWith('.')) continue;
      const to = target(file, imp.spec);
      if (existsSync(to)) stack.push(to);
    }
  }
  return [...seen];
}

test('the agent side never loads the store or the server, even through another module', () => {
  for (const entry of ['agent/index.ts', 'agent/ctl.ts', 'supervisor/index.ts']) {
    const reached = loadedBy(join(SRC, entry)).filter((f) => /\/src\/(store|server|rollout|monitor)\//.test(f));
    assert.deepEqual(
      reached.map((f) => relative(ROOT, f)),
      [],
      `${entry} loads these at import time`,
    );
  }
});

test("the web console loads nothing of Node's: every module it imports runs in a browser", () => {
  // session 28: node:crypto in api/client.ts (which the console loads through api/index.ts) left
  // every console page blank; only the browser tests found it, a minute's timeout each
  const found: string[] = [];
  for (const file of loadedBy(join(SRC, 'ui/main.ts')))
    for (const imp of importsOf(file))
      if (!imp.typeOnly && !imp.dynamic && imp.spec.startsWith('node:')) found.push(`${relative(ROOT, file)}:${imp.line}: ${imp.spec}`);
  assert.ok(
    loadedBy(join(SRC, 'ui/main.ts')).some((f) => f.endsWith('/api/client.ts')),
    'the console loads the API client',
  );
  assert.deepEqual(found, []);
});

/**
 * Every noops.yaml and cluster.conf example in the docs parses with the real parsers.
 *
 * The rule (also in docs/errors.md, "Examples in the docs"): in README.md, docs/*.md and each
 * src/MODULE/README.md, a fenced code block whose first line is a comment naming a file,
 * `# noops.yaml` or `# cluster.conf`, is an example of that file, and is parsed as one. A first
 * line `# noops.yaml (refused)` or `# cluster.conf (refused)` marks an example that shows a
 * mistake: it must fail to parse. Every block tagged `yaml` (or `yml`) must start with such a
 * comment, so that no example escapes by accident: a YAML block that is neither file names what
 * it is (`# watches.yaml`, whose parser lives in the agent, or `# prometheus.yml`: neither is run here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NoopsError, type ErrorCode } from './errors/index.js';
import { parse as parseYaml } from 'yaml';
import { checkStrategyTestFile } from './monitor/judge/index.js';
import { parseNoopsYaml } from './release/noops-yaml.js';
import { parseClusterConf } from './rollout/cluster-conf.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The files an example names in its first line, and how each is checked. */
const PARSERS: Record<string, { parse: (text: string, file: string) => unknown; code: ErrorCode }> = {
  'noops.yaml': { parse: parseNoopsYaml, code: 'NOOPS_E_MANIFEST' },
  'cluster.conf': { parse: parseClusterConf, code: 'NOOPS_E_CLUSTER_CONF' },
  'strategy-test.yaml': { parse: (text) => checkStrategyTestFile(parseYaml(text)), code: 'NOOPS_E_STRATEGY_TEST' },
};

/** YAML files the docs show whose parser is not run here; a block naming one is only listed. */
const NOT_PARSED_HERE = new Set(['watches.yaml', 'prometheus.yml']);

/** One fenced code block: where it is, its info string, and its text without the fence's indent. */
interface Block {
  file: string;
  line: number;
  where: string;
  info: string;
  text: string;
}

/** The markdown files the rule covers, relative to the repository. */
function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f));
  const modules = readdirSync(join(ROOT, 'src'))
    .map((d) => join('src', d, 'README.md'))
    .filter((f) => existsSync(join(ROOT, f)));
  return ['README.md', ...docs, ...modules];
}

/** The fenced (```) code blocks of a markdown text; a fence may be indented (inside a list). */
function fencedBlocks(markdown: string, file: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^ *```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(Math.min(indent, lines[j]!.search(/\S|$/))));
    assert.ok(j < lines.length, `${file}:${i + 1}: a code block that is never closed`);
    blocks.push({ file, line: i + 1, where: `${file}:${i + 1}`, info: open[2]!.trim(), text: `${body.join('\n')}\n` });
    i = j;
  }
  return blocks;
}

/** The file a block's first line names (`# cluster.conf` -> cluster.conf), and whether it is marked refused. */
function namedFile(block: Block): { file: string; refused: boolean } | undefined {
  const m = /^#\s*([\w.-]+\.(?:ya?ml|conf))\b(\s*\(refused\))?/.exec(block.text);
  return m ? { file: m[1]!, refused: m[2] !== undefined } : undefined;
}

const blocks = markdownFiles().flatMap((f) => fencedBlocks(readFileSync(join(ROOT, f), 'utf8'), f));

test('fencedBlocks: indented fences, info strings, text without the indent', () => {
  const md = 'a\n```yaml\n# cluster.conf\ncluster: {}\n```\n\n1. step\n   ```\n   x: 1\n     y\n   ```\n';
  assert.deepEqual(fencedBlocks(md, 'x.md'), [
    { file: 'x.md', line: 2, where: 'x.md:2', info: 'yaml', text: '# cluster.conf\ncluster: {}\n' },
    { file: 'x.md', line: 8, where: 'x.md:8', info: '', text: 'x: 1\n  y\n' },
  ]);
});

test('every YAML block in the docs names the file it is an example of', () => {
  const unnamed = blocks.filter((b) => /^ya?ml\b/.test(b.info) && namedFile(b) === undefined).map((b) => b.where);
  assert.deepEqual(
    unnamed,
    [],
    'start each with "# noops.yaml", "# cluster.conf" (add " (refused)" for a wrong one) or "# FILE" for another file',
  );
  const unknown = blocks.flatMap((b) => {
    const named = namedFile(b);
    return named && !(named.file in PARSERS) && !NOT_PARSED_HERE.has(named.file) ? [`${b.where}: ${named.file}`] : [];
  });
  assert.deepEqual(unknown, [], 'a file this test does not know: add its parser to PARSERS (or to NOT_PARSED_HERE, saying why)');
});

test('every noops.yaml and cluster.conf example in the docs parses (and every one marked refused does not)', () => {
  const checked = new Map<string, number>();
  for (const b of blocks) {
    const named = namedFile(b);
    const parser = named && PARSERS[named.file];
    if (!named || !parser) continue;
    // Blank lines before the text, so that an error's line is the line in the markdown file.
    const text = '\n'.repeat(b.line) + b.text;
    checked.set(named.file, (checked.get(named.file) ?? 0) + 1);
    if (!named.refused) {
      assert.doesNotThrow(() => parser.parse(text, b.file), `${b.where}: the ${named.file} example does not parse`);
    } else {
      assert.throws(
        () => parser.parse(text, b.file),
        (e: unknown) => e instanceof NoopsError && e.code === parser.code,
        `${b.where}: marked refused, yet it parses`,
      );
    }
  }
  for (const file of Object.keys(PARSERS))
    assert.ok((checked.get(file) ?? 0) > 0, `no ${file} example was found in the docs: is the rule still what they follow?`);
});

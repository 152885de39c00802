/** `noops package inspect FILE`: a release package's manifest, checked against the package spec. */
import type { Command } from 'commander';
import { json } from '../output.js';

export function registerPackage(p: Command): void {
  const pkg = p.command('package').description('release packages (docs/package-spec.md)');
  pkg
    .command('inspect')
    .description("show a package's manifest and check it against the release-package spec (no server needed)")
    .argument('<file>', 'a release package (.tar.gz)')
    .option('--json', 'print the manifest, sha256, size and entry count as JSON')
    .action(async (file: string, o: { json?: boolean }) => {
      // loaded here: the validator (zod, tar) is for this command only, not for every `noops` process
      const { inspectPackage } = await import('../../release/package.js');
      const r = await inspectPackage(file);
      if (o.json) return json([{ file, sha256: r.sha256, size: r.size, entries: r.entries.length, manifest: r.manifest }]);
      const m = r.manifest;
      const out = process.stdout;
      out.write(`${file}: a valid release package (spec ${m.schema})\n`);
      out.write(
        `  job       ${m.job}\n  version   ${m.version} (commit ${m.commit})\n  repo      ${m.repo}\n  built     ${m.builtAt}, stack ${m.stack}\n`,
      );
      out.write(`  package   ${r.size} bytes, ${r.entries.length} entries, sha256 ${r.sha256}\n`);
      const runtimes = Object.entries(m.runtimes ?? {}).map(([n, v]) => `${n} ${v}`);
      out.write(`  runtimes  ${runtimes.length > 0 ? runtimes.join(', ') : '(none)'}\n`);
      const env = Object.entries(m.env).map(([k, v]) => `${k}=${v}`);
      out.write(`  env       ${env.length > 0 ? env.join(' ') : '(none)'}\n  processes\n`);
      for (const proc of m.processes) {
        out.write(
          `    ${proc.name}: ${proc.command}  (port ${proc.port ?? 'none'}, stop ${proc.stopSignal} after ${proc.stopTimeout}s, start grace ${proc.startGrace}s)\n`,
        );
      }
    });
}

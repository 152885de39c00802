/**
 * `noops release -u REPO -t TAG -v COMMIT`: one click: build the commit (its tests run in the
 * build), then deploy it to the cluster and follow the rollout. `noops release import FILE|URL
 * -t TAG`: a package built elsewhere recorded as a release (docs/import.md).
 */
import type { Stats } from 'node:fs';
import type { Command } from 'commander';
import { createReadStream, statSync } from 'node:fs';
import { NoopsError } from '../../errors/index.js';
import { json } from '../output.js';
import { runBuildAndFollow } from './build.js';
import { followAndFinish, startFollowed } from './deploy.js';
import { apiOf, parseList } from './common.js';
import { policyOf, withPolicyFlags } from './policy-flags.js';

export function registerRelease(p: Command): void {
  const release = withPolicyFlags(
    p
      .command('release')
      .description('build REPO at COMMIT (with its tests), then deploy it to the cluster TAG: build + test + deploy in one')
      // not required options: commander checks a command's required options for its subcommands too
      .option('-u, --repo <repo>', 'git repository: any URL git accepts, file:// and paths included (required)')
      .option('-t, --tag <tag>', "the cluster's tag (its job is the one built) (required)")
      .option('-v, --ref <commit>', 'commit, tag or branch to build and deploy (required)'),
  )
    .option('--canary <hosts>', 'these hosts first, as a canary that waits for `noops deploy promote`')
    .option('--no-wait', 'return once the deploy has started')
    .option('--json', 'print the deployment as JSON (build log and progress go to stderr)')
    .action(
      async (
        o: Record<string, unknown> & { repo?: string; tag?: string; ref?: string; canary?: string; wait: boolean; json?: boolean },
        cmd: Command,
      ) => {
        const missing = (['repo', 'tag', 'ref'] as const)
          .filter((k) => !o[k])
          .map((k) => ({ repo: '-u REPO', tag: '-t TAG', ref: '-v COMMIT' })[k]);
        if (missing.length > 0)
          throw new NoopsError('NOOPS_E_INPUT', `release needs ${missing.join(', ')} (or \`noops release import FILE|URL -t TAG\`)`);
        const api = apiOf(cmd);
        const out = o.json ? process.stderr : process.stdout;
        // the build takes the cluster tag and builds its job
        const build = await runBuildAndFollow(api, { repo: o.repo!, tag: o.tag!, ref: o.ref! }, out);
        out.write(`built ${build.job} ${build.version}; deploying it\n`);
        const req = { tag: o.tag!, version: build.version!, policy: policyOf(o), canary: o.canary ? parseList(o.canary) : undefined };
        await followAndFinish(api, await startFollowed(api, { kind: 'deploy', req }, o), o);
      },
    );

  release
    .command('import')
    .description(
      "record a package built elsewhere (a tar.gz following docs/package-spec.md) as a release of TAG's job; " +
        "its version is its manifest's, its sha256 is recorded; deploy it with `noops deploy -v VERSION`",
    )
    .argument('<source>', 'the package: a file, or an http(s) URL the server fetches')
    // -t and --json are `release`'s own flags (commander gives them to the parent): read with the globals
    .addHelpText(
      'after',
      '\nOptions:\n  -t, --tag <tag>  the job (or one of its clusters) the package was built for (required)\n  --json           print the release as JSON',
    )
    .action(async (source: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ tag?: string; json?: boolean }>();
      if (!o.tag) throw new NoopsError('NOOPS_E_INPUT', "release import needs the job's tag: -t TAG");
      const api = apiOf(cmd);
      let r: Awaited<ReturnType<typeof api.importReleaseUrl>>;
      if (/^https?:\/\//i.test(source)) {
        r = await api.importReleaseUrl(o.tag, source);
      } else {
        let st: Stats;
        try {
          st = statSync(source);
        } catch {
          throw new NoopsError('NOOPS_E_INPUT', `${source}: no such file (give a package file or an http(s) URL)`);
        }
        if (!st.isFile()) throw new NoopsError('NOOPS_E_INPUT', `${source} is not a file`);
        r = await api.importRelease(o.tag, createReadStream(source));
      }
      if (o.json) return json([r]);
      process.stdout.write(`release ${r.job} ${r.version} (sha256 ${r.sha256}, ${r.size} bytes)\n`);
    });
}

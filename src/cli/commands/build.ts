/** `noops build`: build a commit of a repository into a release, showing the build's output. */
import type { Command } from 'commander';
import { NoopsError } from '../../errors/index.js';
import type { BuildRequest, BuildView } from '../../api/index.js';
import type { ApiClient } from '../../api/index.js';
import { json } from '../output.js';
import { apiOf, sleep } from './common.js';

/** How often a running build's log is fetched: live enough to read along. */
const POLL_MS = 300;

/** Starts a build and follows it to the end; throws the build's error when it fails. */
export async function runBuildAndFollow(api: ApiClient, req: BuildRequest, out: NodeJS.WritableStream | null): Promise<BuildView> {
  const started = await api.startBuild(req);
  out?.write(`build #${started.id}: ${started.repo} at ${started.ref} for ${started.job}\n`);
  let offset = 0;
  for (;;) {
    const { build, log, logOffset } = await api.build(started.id, offset);
    if (log) out?.write(log);
    offset = logOffset;
    if (build.status !== 'running') {
      if (build.status === 'failed') {
        const e = build.error;
        throw new NoopsError(
          (e?.code as 'NOOPS_E_BUILD_FAILED') ?? 'NOOPS_E_BUILD_FAILED',
          `build #${build.id} failed: ${e?.message ?? 'see its log'}`,
          e?.hint ? { hint: e.hint } : undefined,
        );
      }
      return build;
    }
    await sleep(POLL_MS);
  }
}

export function registerBuild(p: Command): void {
  p.command('build')
    .description('build REPO at COMMIT into a release of the job TAG (clone, build, test, package)')
    .requiredOption('-u, --repo <repo>', 'git repository: any URL git accepts, file:// and paths included')
    .requiredOption('-t, --tag <tag>', "the job's tag, e.g. cop.acme_owt.web_pdl.shop_service.api_job.web")
    .requiredOption('-v, --ref <commit>', 'commit, tag or branch to build')
    .option(
      '--credential <name>',
      'a secret (`noops secret set NAME`) at or above the job holding user:password or a token for an https repository',
    )
    .option('--json', 'print the build as JSON (the log goes to stderr)')
    .action(async (o: { repo: string; tag: string; ref: string; credential?: string; json?: boolean }, cmd: Command) => {
      const api = apiOf(cmd);
      const req = { repo: o.repo, tag: o.tag, ref: o.ref, ...(o.credential !== undefined && { credential: o.credential }) };
      const build = await runBuildAndFollow(api, req, o.json ? process.stderr : process.stdout);
      if (o.json) {
        const [release] = await api.releases(build.job).then((rs) => rs.filter((r) => r.version === build.version));
        json([{ ...build, sha256: release?.sha256 ?? null, size: release?.size ?? null }]);
      } else {
        process.stdout.write(`built ${build.job} ${build.version}\n`);
      }
    });
}

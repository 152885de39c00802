/**
 * `noops deploy` (start a rollout and follow it), `noops deploy status|pause|resume|promote|abort`
 * (see and steer the running one) and `noops rollback`.
 */
import type { Command } from 'commander';
import { type ApiClient, deploymentActionSummary, historySummaries, refusesSummary, startSummary } from '../../api/index.js';
import type {
  DeploymentAction,
  DeploymentSummary,
  DeploymentView,
  DeployRequest,
  RollbackRequest,
  UndeployRequest,
} from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { follow, summarySource } from '../follow.js';
import { batchLine, countsLine, describe, ending, HEADLINE_HOSTS_MAX, headline, rendererFor } from '../progress.js';
import { json } from '../output.js';
import { apiOf, parseList } from './common.js';
import { policyOf, withPolicyFlags } from './policy-flags.js';
import { printDependents } from './deps.js';

interface FollowFlags {
  wait: boolean;
  json?: boolean;
}

/** A deployment to start: its kind and what the call takes. */
export type StartRequest =
  | { kind: 'deploy'; req: DeployRequest }
  | { kind: 'rollback'; req: RollbackRequest }
  | { kind: 'undeploy'; req: UndeployRequest };

/** The start call that answers the whole deployment. */
function startWhole(api: ApiClient, s: StartRequest): Promise<DeploymentView> {
  switch (s.kind) {
    case 'deploy':
      return api.deploy(s.req);
    case 'rollback':
      return api.rollback(s.req);
    case 'undeploy':
      return api.undeploy(s.req);
  }
}

/**
 * Starts a deployment for the CLI to follow. With `--json` the answer is the whole deployment, as
 * it always was (scripts read it); else its summary (`?view=summary`: a few kB, not 3 MB at 10,000
 * hosts), then the whole deployment when it is small enough for the headline to name its hosts
 * (HEADLINE_HOSTS_MAX), so that a small one prints as before. A server that refuses the summary
 * refused it before starting anything: the whole start then.
 */
export async function startFollowed(api: ApiClient, s: StartRequest, o: { json?: boolean }): Promise<DeploymentView | DeploymentSummary> {
  if (o.json) return startWhole(api, s);
  let summary: DeploymentSummary;
  try {
    summary =
      s.kind === 'deploy'
        ? await startSummary(api, 'deploy', s.req)
        : s.kind === 'rollback'
          ? await startSummary(api, 'rollback', s.req)
          : await startSummary(api, 'undeploy', s.req);
  } catch (err) {
    if (!refusesSummary(err)) throw err;
    return startWhole(api, s);
  }
  return summary.hostCount <= HEADLINE_HOSTS_MAX ? api.deployment(summary.id) : summary;
}

/**
 * Follows a started deployment to its end (or returns at once with --no-wait) through its
 * summaries (a few kB each at any size), then prints it whole as JSON when asked (read once, at
 * the end); the exit code says whether it succeeded.
 */
export async function followAndFinish(api: ApiClient, start: DeploymentView | DeploymentSummary, o: FollowFlags): Promise<void> {
  if (!o.wait) {
    if (o.json) json([start]);
    else
      process.stdout.write(
        `${headline(start)}\n${start.kind} #${start.id} started; follow it with \`noops deploy status -t ${start.tag}\`\n`,
      );
    return;
  }
  await printDependents(api, start.tag, o.json ? process.stderr : process.stdout); // who this change touches
  const d = await follow(summarySource(api), start, rendererFor(o.json ? process.stderr : process.stdout));
  if (o.json) json([await api.deployment(d.id)]);
  if (d.status !== 'succeeded') throw deploymentFailure(d);
}

/**
 * The words with which an agent refuses a release whose signature does not verify
 * (src/agent/signing.ts, docs/trust.md); they reach the CLI in the deployment's host results.
 */
export const SIGNATURE_REFUSAL = 'its signature does not verify';

/**
 * The error a followed deployment that did not succeed ends the command with (exit code 1, as
 * before; the ending is on stdout already): NOOPS_E_SIGNATURE_INVALID when a host refused the
 * release's signature, whose remedy differs, else NOOPS_E_DEPLOY_FAILED.
 *
 * @example deploymentFailure(d).message // 'deploy #12 rolled back: 1 host(s) failed in batch 1 of 2: ...'
 */
export function deploymentFailure(d: DeploymentView | DeploymentSummary): NoopsError {
  const results = 'hostResults' in d ? Object.values(d.hostResults) : d.failures.map((f) => f.result);
  const refused = results.some((r) => r.includes(SIGNATURE_REFUSAL));
  return new NoopsError(refused ? 'NOOPS_E_SIGNATURE_INVALID' : 'NOOPS_E_DEPLOY_FAILED', ending(d));
}

/** The running deployment of a cluster, its summary; NOOPS_E_NO_DEPLOYMENT when there is none. */
async function runningOf(api: ApiClient, tag: string): Promise<DeploymentSummary> {
  const [d] = await historySummaries(api, tag, { limit: 1, status: 'running' });
  if (!d) throw new NoopsError('NOOPS_E_NO_DEPLOYMENT', `no deployment is running on ${tag}`);
  return d;
}

function tagOf(o: { tag?: string }, what: string): string {
  if (!o.tag) throw new NoopsError('NOOPS_E_INPUT', `${what} needs the cluster's tag: -t TAG`);
  return o.tag;
}

/** A deployment in a few lines: headline, where it is, each batch's hosts, the last log lines. */
export function statusText(d: DeploymentView, logLines = 10): string {
  const out = [headline(d)];
  const p = d.progress;
  out.push(
    `  status: ${d.status === 'running' && p ? `running: ${describe(p)}` : d.status.replace('_', ' ')}` +
      ` (started by ${d.initiator} at ${d.startedAt}${d.endedAt ? `, ended ${d.endedAt}` : ''})`,
  );
  if (d.message) out.push(`  ${d.message}`);
  if (p) {
    p.batches.forEach((_, i) => {
      out.push(`  batch ${i + 1}: ${batchLine(p, i)}`);
    });
    for (const [h, r] of Object.entries(d.hostResults))
      if (r.startsWith('failed') || r.startsWith('reverted after')) out.push(`  ${h}: ${r}`);
    for (const t of p.tests)
      out.push(`  deploy tests after batch ${t.batch + 1}: ${t.status} (${t.instances.join(', ') || 'no instances'})`);
    for (const l of p.log.slice(-logLines)) out.push(`  ${l.at.slice(11, 19)} ${l.message}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * A large deployment in a few lines, from its summary: headline, where it is, each batch's hosts
 * per state with those in flight, the failures (50 at most), the tests and the last log lines.
 */
export function summaryText(s: DeploymentSummary, logLines = 10): string {
  const p = s.progress;
  const plan = p ? ` in ${p.batches.length} batch(es) of ${p.batches.map((b) => b.size).join(', ')} host(s)` : '';
  const out = [
    `${s.kind} #${s.id}: ${s.tag} ${s.kind === 'undeploy' ? `stops ${s.version}` : `-> ${s.version}`} on ${s.hostCount} host(s)${plan}`,
  ];
  out.push(
    `  status: ${s.status === 'running' && p ? `running: ${describe(p)}` : s.status.replace('_', ' ')}` +
      ` (started by ${s.initiator} at ${s.startedAt}${s.endedAt ? `, ended ${s.endedAt}` : ''})`,
  );
  if (s.message) out.push(`  ${s.message}`);
  if (p) {
    p.batches.forEach((b, i) => {
      out.push(
        `  batch ${i + 1}: ${countsLine(
          b.states,
          s.inFlight.filter((h) => h.batch === i).map((h) => h.host),
        )}`,
      );
    });
  }
  for (const f of s.failures) out.push(`  ${f.host}: ${f.result}`);
  if (s.failureCount > s.failures.length) {
    out.push(`  … and ${s.failureCount - s.failures.length} more failed (GET /api/v1/deployments/${s.id}/hosts?state=failed,reverted)`);
  }
  if (p) {
    for (const t of p.tests)
      out.push(`  deploy tests after batch ${t.batch + 1}: ${t.status} (${t.instances.join(', ') || 'no instances'})`);
    for (const l of p.log.slice(-logLines)) out.push(`  ${l.at.slice(11, 19)} ${l.message}`);
  }
  return `${out.join('\n')}\n`;
}

export function registerDeploy(p: Command): void {
  const deploy = withPolicyFlags(
    p
      .command('deploy')
      .description(
        'roll release VERSION out over the cluster TAG in batches, health-checked, and follow it\n' +
          '(subcommands see and steer the running deploy: status, pause, resume, promote, abort)',
      )
      .option('-t, --tag <tag>', "the cluster's tag (ends in cluster.NAME; a unique part is enough)")
      .option('-v, --version <version>', "the release (9-character commit); default: the cluster.conf's version"),
  )
    .option('--canary <hosts>', 'these hosts first, as a canary: the deploy waits for `noops deploy promote`')
    .option('--no-wait', 'start the deploy and return at once')
    .option('--json', 'print the deployment as JSON (the progress goes to stderr)')
    .action(async (o: FollowFlags & Record<string, unknown> & { tag?: string; version?: string; canary?: string }, cmd: Command) => {
      const api = apiOf(cmd);
      const req = { tag: tagOf(o, 'deploy'), version: o.version, policy: policyOf(o), canary: o.canary ? parseList(o.canary) : undefined };
      await followAndFinish(api, await startFollowed(api, { kind: 'deploy', req }, o), o);
    });

  deploy
    .command('status')
    .description('the running deploy of -t TAG (or the last one): its batches, hosts, tests and log')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ tag?: string; json?: boolean }>();
      const tag = tagOf(o, 'deploy status');
      const api = apiOf(cmd);
      const [s] = await historySummaries(api, tag, { limit: 1 });
      if (!s) throw new NoopsError('NOOPS_E_NO_DEPLOYMENT', `${tag} has never been deployed`);
      // --json prints the whole deployment, as it always has; so does a small one's text (its hosts by name)
      if (o.json) return json([await api.deployment(s.id)]);
      process.stdout.write(s.hostCount <= HEADLINE_HOSTS_MAX ? statusText(await api.deployment(s.id)) : summaryText(s));
    });

  const actions: [DeploymentAction, string][] = [
    ['pause', 'hold the running deploy of -t TAG after its current batch'],
    ['resume', 'let a paused deploy go on'],
    ['promote', 'let a deploy waiting at its canary go on to the other batches'],
    ['abort', 'stop the running deploy and send every host it changed back to its previous release'],
  ];
  for (const [action, help] of actions) {
    deploy
      .command(action)
      .description(help)
      .action(async (_o: unknown, cmd: Command) => {
        const o = cmd.optsWithGlobals<{ tag?: string; json?: boolean }>();
        const api = apiOf(cmd);
        const running = await runningOf(api, tagOf(o, `deploy ${action}`));
        // --json prints the whole deployment, as it always has; else its summary is enough
        if (o.json) return json([await api.deploymentAction(running.id, action)]);
        const d = await deploymentActionSummary(api, running.id, action);
        const did = { pause: 'paused', resume: 'resumed', promote: 'promoted', abort: 'aborting' }[action];
        process.stdout.write(
          `${d.kind} #${d.id}: ${did}` + `${d.status === 'running' && d.progress ? `; ${describe(d.progress)}` : `; ${ending(d)}`}\n`,
        );
      });
  }

  withPolicyFlags(
    p
      .command('rollback')
      .description('deploy an earlier release again (default: the one before the current); recorded like any deploy')
      .requiredOption('-t, --tag <tag>', "the cluster's tag")
      .option('--to <version>', 'the version to go back to (any in `noops history`)'),
  )
    .option('--canary <hosts>', 'these hosts first, as a canary that waits for `noops deploy promote`')
    .option('--no-wait', 'start the rollback and return at once')
    .option('--json', 'print the deployment as JSON')
    .action(async (o: FollowFlags & Record<string, unknown> & { tag: string; to?: string; canary?: string }, cmd: Command) => {
      const api = apiOf(cmd);
      const req = { tag: o.tag, to: o.to, policy: policyOf(o), canary: o.canary ? parseList(o.canary) : undefined };
      await followAndFinish(api, await startFollowed(api, { kind: 'rollback', req }, o), o);
    });
}

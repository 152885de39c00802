/** Read-only commands: history, ps, hosts, tree, releases, audit. */
import type { Command } from 'commander';
import { historySummaries } from '../../api/index.js';
import { ago, json, table } from '../output.js';
import { countsLine } from '../progress.js';
import { apiOf } from './common.js';
import { usedOfOffered } from './schedule-flags.js';

export function registerViews(p: Command): void {
  p.command('history')
    .description('the deploy history of a cluster, newest first')
    .requiredOption('-t, --tag <tag>', "the cluster's tag")
    .option('-n, --limit <n>', 'how many rows', '20')
    .option('--json', 'print JSON')
    .action(async (o: { tag: string; limit: string; json?: boolean }, cmd: Command) => {
      const api = apiOf(cmd);
      // --json prints each deployment whole, as it always has (scripts read it); the table shows
      // each one's head and its hosts per state, read as summaries (a few kB each at 10,000 hosts)
      if (o.json) return json(await api.history(o.tag, Number(o.limit)));
      const rows = await historySummaries(api, o.tag, { limit: Number(o.limit) });
      table(
        rows.map((r) => ({ ...r, hosts: countsLine(r.states) })),
        ['id', 'version', 'kind', 'initiator', 'startedAt', 'endedAt', 'hostCount', 'status', 'hosts'],
      );
    });

  p.command('ps')
    .description("instances: what runs where (host, tag, process, version, state, pid, a container's address, port)")
    .option('-t, --tag <tag>', 'only under this tag (any level)')
    .option('--json', 'print JSON')
    .action(async (o: { tag?: string; json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).instances(o.tag);
      if (o.json) return json(rows);
      // a container's own address, in a column of its own once any instance has one (docs/containers.md, "Network and addresses")
      const addressed = rows.some((r) => r.address);
      table(
        rows.map((r) => ({ ...r, error: r.error ?? '', address: r.address ?? '' })),
        ['host', 'tag', 'process', 'version', 'state', 'pid', ...(addressed ? ['address'] : []), 'port', 'restarts', 'error'],
      );
    });

  p.command('hosts')
    .description('the hosts that joined: status (up or down, draining), labels, last heartbeat, cpu and memory allocated/offered')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).hosts();
      if (o.json) return json(rows);
      table(
        rows.map((r) => ({
          ...r,
          lastHeartbeat: ago(r.lastHeartbeat),
          scope: r.scope ?? '',
          pendingJoin: r.pendingJoin ? `from ${r.pendingJoin.address ?? '?'}` : '',
          trust: r.trust?.state === 'refused' ? `refused: ${r.trust.reason ?? ''}` : '',
          // what scheduled clusters ask of it, over what it offers (issue 18)
          cpu: usedOfOffered(r, 'cpu'),
          memory: usedOfOffered(r, 'memory'),
          status: r.draining ? `${r.status},draining` : r.status,
        })),
        ['name', 'status', 'scope', 'labels', 'lastHeartbeat', 'cpu', 'memory', 'address', 'pendingJoin', 'trust'],
      );
    });

  p.command('tree')
    .description('the service tree with the number of hosts under every node')
    .argument('[selector]', 'only the part matching this selector, e.g. cop=xiaomi,owt=miliao')
    .option('--json', 'print JSON')
    .action(async (selector: string | undefined, o: { json?: boolean }, cmd: Command) => {
      const view = await apiOf(cmd).tree(selector);
      if (o.json) return json(view.roots);
      process.stdout.write(view.text ? `${view.text}\n` : '(the tree is empty: build or set a cluster with a full tag to create it)\n');
    });

  p.command('releases')
    .description('the releases built for a job, newest first')
    .option('-t, --tag <tag>', "the job's tag (or a cluster under it)")
    .option('--json', 'print JSON')
    .action(async (o: { tag?: string; json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).releases(o.tag);
      if (o.json) return json(rows);
      // signed, unsigned, invalid (changed after signing) or other-key, with the key's id
      const signed = (r: (typeof rows)[number]): string => (r.signature ? `${r.signature.state} ${r.signature.keyId ?? ''}`.trim() : '');
      table(
        rows.map((r) => ({ ...r, sha256: r.sha256.slice(0, 12), signature: signed(r) })),
        ['job', 'version', 'createdAt', 'size', 'sha256', 'signature', 'repo'],
      );
    });

  p.command('audit')
    .description('who did what: builds, deploys, rollbacks, cluster changes, joins')
    .option('-n, --limit <n>', 'how many rows', '50')
    .option('--json', 'print JSON')
    .action(async (o: { limit: string; json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).audit(Number(o.limit));
      if (o.json) return json(rows);
      table(
        rows.map((r) => ({ ...r, detail: JSON.stringify(r.detail) })),
        ['at', 'actor', 'action', 'target', 'detail'],
      );
    });
}

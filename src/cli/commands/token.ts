/**
 * `noops token`: team tokens (a role on one node of the tree), join tokens for new hosts, and
 * their list and revocation. A token's secret is printed once, at creation.
 */
import type { Command } from 'commander';
import { NoopsError } from '../../errors/index.js';
import type * as T from '../../api/index.js';
import { json, table } from '../output.js';
import { apiOf } from './common.js';

const ROLES = ['viewer', 'deployer', 'admin'] as const;

/**
 * An expiry given as a duration from now (`90m`, `12h`, `30d`) or an ISO-8601 time, as ISO text.
 *
 * @example expiresAt('30d', Date.parse('2026-01-01T00:00:00Z')) // '2026-01-31T00:00:00.000Z'
 */
export function expiresAt(raw: string, now = Date.now()): string {
  const m = /^(\d+)(m|h|d)$/.exec(raw.trim());
  if (m) return new Date(now + Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd']).toISOString();
  const t = Date.parse(raw);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(raw)) {
    throw new NoopsError('NOOPS_E_INPUT', `--expires "${raw}" is neither a duration (90m, 12h, 30d) nor a time (2027-01-01T00:00:00Z)`);
  }
  return new Date(t).toISOString();
}

export function registerToken(p: Command): void {
  const t = p.command('token').description('API tokens: team roles on the tree, join tokens, list, revoke');
  t.command('create')
    .description("create a token: a team's role under one node of the tree (--scope), or a join token for hosts (--join)")
    .requiredOption('--name <name>', 'who holds it (appears in the audit log)')
    .option('--scope <tag>', 'the node the team may act on (and everything under it), e.g. cop.acme_owt.web')
    .option('--role <role>', `what it may do there: ${ROLES.join(', ')}`, 'deployer')
    .option('--join', 'a join token for new hosts (admin only), instead of a team token')
    .option('--uses <n>', 'join tokens: how many hosts may join with it (default: no limit)')
    .option('--expires <when>', 'refused after this: a duration (90m, 12h, 30d) or a time (2027-01-01T00:00:00Z)')
    .option('--json', 'print JSON')
    .action(
      async (
        o: { name: string; scope?: string; role: string; join?: boolean; uses?: string; expires?: string; json?: boolean },
        cmd: Command,
      ) => {
        const expires = o.expires === undefined ? undefined : expiresAt(o.expires);
        let req: T.TokenCreateRequest;
        if (o.join) {
          if (o.scope !== undefined)
            throw new NoopsError('NOOPS_E_INPUT', 'a join token has no --scope (assign hosts with `noops host assign`)');
          const uses = o.uses === undefined ? undefined : Number(o.uses);
          if (uses !== undefined && (!Number.isInteger(uses) || uses < 1))
            throw new NoopsError('NOOPS_E_INPUT', `--uses "${o.uses}" is not a whole number >= 1`);
          req = { kind: 'join', name: o.name, uses, expiresAt: expires };
        } else {
          if (o.scope === undefined) throw new NoopsError('NOOPS_E_INPUT', 'a team token needs --scope TAG (or --join for a join token)');
          if (o.uses !== undefined) throw new NoopsError('NOOPS_E_INPUT', '--uses is for join tokens (--join)');
          if (!(ROLES as readonly string[]).includes(o.role))
            throw new NoopsError('NOOPS_E_INPUT', `--role "${o.role}" is not one of ${ROLES.join(', ')}`);
          req = { kind: 'team', name: o.name, scope: o.scope, role: o.role as T.TokenView['role'] & string, expiresAt: expires };
        }
        const res = await apiOf(cmd).createToken(req);
        if (o.json) return json([res]);
        process.stdout.write(`${res.token}\n`);
        const what =
          res.kind === 'join'
            ? `join token ${res.name}${res.usesLeft === null ? '' : ` for ${res.usesLeft} host(s)`}`
            : `${res.name} is ${res.role} under ${res.scope}`;
        process.stderr.write(`${what} (id ${res.id}${res.expiresAt ? `, expires ${res.expiresAt}` : ''}); the token is shown only once\n`);
      },
    );

  t.command('ls')
    .description("list tokens (never their secrets): the admin sees all, a team's admin those under its scope")
    .option('--kind <kind>', 'only this kind: admin, team, agent, join')
    .option('--json', 'print JSON')
    .action(async (o: { kind?: T.TokenView['kind']; json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).tokens(o.kind);
      if (o.json) return json(rows);
      table(
        rows.map((r) => ({ ...r, scope: r.scope ?? '', role: r.role ?? '', expiresAt: r.expiresAt ?? '', usesLeft: r.usesLeft ?? '' })),
        ['id', 'kind', 'name', 'scope', 'role', 'createdAt', 'expiresAt', 'usesLeft'],
      );
    });

  t.command('revoke')
    .description('revoke a token by its id or name: refused at once')
    .argument('<ref>', "the token's id (from `noops token ls`) or name")
    .option('--json', 'print JSON')
    .action(async (ref: string, o: { json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).revokeToken(ref);
      if (o.json) return json(rows);
      for (const r of rows) process.stdout.write(`revoked ${r.kind} token ${r.name} (id ${r.id})\n`);
    });
}

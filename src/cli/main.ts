/**
 * The `noops` command. Thin: parses, calls the API client, renders.
 *
 * @example
 *   import { main } from './cli/main.js';
 *   process.exitCode = await main(['hosts', '--json']);
 */
import { Command, CommanderError } from 'commander';
import { NoopsError } from '../errors/index.js';
import { registerDaemons } from './commands/daemons.js';
import { registerBuild } from './commands/build.js';
import { registerDeploy } from './commands/deploy.js';
import { registerRelease } from './commands/release.js';
import { registerViews } from './commands/views.js';
import { registerCluster } from './commands/cluster.js';
import { registerToken } from './commands/token.js';
import { registerHost } from './commands/host.js';
import { registerRoot } from './commands/root.js';
import { registerCtl } from './commands/ctl.js';
import { registerRemote } from './commands/remote.js';
import { registerRuntime } from './commands/runtime.js';
import { registerPackage } from './commands/package.js';
import { registerSecret } from './commands/secret.js';
import { registerHostAdopt } from './commands/host-adopt.js';
import { registerUndeploy } from './commands/undeploy.js';
import { registerServers } from './commands/servers.js';
import { registerStrategyTest } from './commands/strategy-test.js';
import { registerStrategies } from './commands/strategy-manage.js';
import { registerMaintain } from './commands/maintain.js';
import { registerNodata } from './commands/nodata.js';
import { registerResolve } from './commands/resolve.js';
import { registerDeps } from './commands/deps.js';
import { registerMetrics } from './commands/metrics.js';
import { registerAlarms } from './commands/alarms.js';
import { registerSilence } from './commands/silence.js';
import { registerLb } from './commands/lb.js';
import { registerNetwork } from './commands/network.js';
import { registerVolume } from './commands/volume.js';
import { registerScale } from './commands/scale.js';
import { registerRebalance } from './commands/rebalance.js';

/** Exit codes: 0 done, 1 failed (the server said no, a deploy failed), 2 bad usage. */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export function program(): Command {
  const p = new Command('noops')
    .description('A deploy system that keeps machine lists, monitoring, load balancers and naming true by itself.')
    .option(
      '--server <urls>',
      'the noops server, or several of one database joined by commas (URL1,URL2,URL3): one is picked at random and the next is used when it stops answering (env NOOPS_SERVER, default http://127.0.0.1:7700)',
    )
    .option('--token <token>', 'API token (env NOOPS_TOKEN, default: ./.noops/admin.token)')
    .option('--ca <file>', 'the CA an https:// server is verified with (env NOOPS_CA, default: ./.noops/tls/ca.pem)')
    .exitOverride()
    .showHelpAfterError('(run `noops help` or `noops COMMAND --help` for usage)');
  registerDaemons(p);
  registerBuild(p);
  registerDeploy(p);
  registerRelease(p);
  registerViews(p);
  registerCluster(p);
  registerToken(p);
  registerHost(p);
  registerRoot(p);
  registerCtl(p);
  registerRemote(p);
  registerRuntime(p);
  registerPackage(p);
  registerSecret(p);
  registerHostAdopt(p);
  registerUndeploy(p);
  registerServers(p);
  registerStrategyTest(p);
  registerStrategies(p);
  registerMaintain(p);
  registerNodata(p);
  registerResolve(p);
  registerDeps(p);
  registerMetrics(p);
  registerAlarms(p);
  registerSilence(p);
  registerLb(p);
  registerNetwork(p);
  registerVolume(p);
  registerScale(p);
  registerRebalance(p);
  return p;
}

export async function main(argv: string[]): Promise<number> {
  const p = program();
  try {
    await p.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : EXIT_USAGE;
    }
    if (err instanceof NoopsError) {
      process.stderr.write(`noops: ${err.message}\n  (${err.code}) ${err.hint}\n`);
      return EXIT_FAILED;
    }
    process.stderr.write(`noops: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_FAILED;
  }
}

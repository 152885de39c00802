/**
 * A command group (`noops strategy ...`) that several files add subcommands to: the first caller
 * creates it, the others get the same one (commander would otherwise register two `strategy`).
 *
 *   const strategy = commandGroup(program, 'strategy', 'alert strategies bound to the tree');
 *   strategy.command('test <file>')...
 */
import type { Command } from 'commander';

/** The subcommand `name` of `parent`, created with `description` if it does not exist yet. */
export function commandGroup(parent: Command, name: string, description: string): Command {
  const existing = parent.commands.find((c) => c.name() === name);
  return existing ?? parent.command(name).description(description);
}

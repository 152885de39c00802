/** Helpers the commands share. */
import type { Command } from 'commander';
import { NoopsError } from '../../errors/index.js';
import { client, type ClientFlags } from '../config.js';
import { type ApiClient, parseDurationText } from '../../api/index.js';

/** The API client for a command, from the global --server/--token flags. */
export function apiOf(cmd: Command): ApiClient {
  return client(cmd.optsWithGlobals<ClientFlags>());
}

/** "k=v,k2=v2" into a map; a clear error for anything else. */
export function parseLabels(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const part of raw.split(',')) {
    const item = part.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new NoopsError('NOOPS_E_INPUT', `label "${item}" is not key=value (e.g. --labels rack=r1,zone=bj)`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** "h1,h2, h3" into a list. */
export function parseList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A duration like 30, 30s, 5m, 1h, 1d, in seconds (whole numbers; no bounds). */
export function parseSeconds(raw: string, what: string): number {
  const seconds = parseDurationText(raw, { units: ['s', 'm', 'h', 'd'], bare: 's', answer: 's', trim: true });
  if (seconds === undefined) throw new NoopsError('NOOPS_E_INPUT', `${what} "${raw}" is not a duration (e.g. 90, 90s, 5m, 1h, 1d)`);
  return seconds;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

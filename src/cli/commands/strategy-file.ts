/**
 * The file of `noops strategy apply -f FILE`: a YAML list of strategies, so they live in git.
 * One zod schema, which is also the format's documentation; an unknown key or a wrong type is
 * refused with the entry, the key and its line.
 *
 *   # strategies.yaml
 *   - selector: cop=xiaomi,owt=miliao,pdl=account
 *     metric: common.servicerunning
 *     func: all(#3)
 *     op: "=="
 *     right: 0
 *     max: 99
 *     priority: 2
 *     note: the service is down
 *     run: 09:00-18:00          # optional; may cross midnight
 *   - selector: cop=xiaomi,owt=miliao,pdl=account,service=login
 *     metric: common.servicerunning
 *     off: true                 # switches the inherited one off here and below
 */
import { isSeq, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { StrategyInput } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';

/** One entry of the file (the CLI's flag names: `max` is `--max`). */
const Entry = z
  .object({
    selector: z.string().min(1),
    metric: z.string().min(1),
    tags: z.string().optional(),
    func: z.string().optional(),
    op: z.string().optional(),
    right: z.number().optional(),
    max: z.number().int().optional(),
    priority: z.number().int().optional(),
    note: z.string().optional(),
    run: z.string().optional(),
    off: z.boolean().optional(),
  })
  .strict();

function invalid(file: string, line: number | undefined, message: string): NoopsError {
  return new NoopsError('NOOPS_E_STRATEGY_INVALID', `${file}${line === undefined ? '' : `:${line}`}: ${message}`, {
    hint: 'each entry has selector, metric and either func, op, right, max, priority (note, tags, run optional) or off: true (docs/monitoring.md)',
  });
}

/**
 * Parses the file's text into the wire's strategies.
 *
 * @example parseStrategyFile('- {selector: cop=x, metric: m, func: all(#1), op: "<", right: 1, max: 3, priority: 2}\n', 'f.yaml')
 */
export function parseStrategyFile(text: string, file: string): StrategyInput[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const lineOf = (offset: number | undefined): number | undefined => (offset === undefined ? undefined : lines.linePos(offset).line);
  const first = doc.errors[0];
  if (first) throw invalid(file, lineOf(first.pos[0]), first.message.split('\n')[0] ?? 'not YAML');
  if (doc.contents === null) return [];
  if (!isSeq(doc.contents))
    throw invalid(file, lineOf(doc.contents.range?.[0]), 'the file is a YAML list of strategies (each entry starts with "- ")');
  const items = doc.contents.items;
  return (doc.toJS() as unknown[]).map((raw, i) => {
    const r = Entry.safeParse(raw);
    const item = items[i] as { range?: [number, number, number] } | undefined;
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const key = issue.code === 'unrecognized_keys' ? issue.keys[0] : issue.path.map(String).join('.');
      const at = key ? (doc.getIn([i, key], true) as { range?: [number, number, number] } | undefined) : undefined;
      const why = issue.code === 'unrecognized_keys' ? `unknown key "${key}"` : `${key}: ${issue.message}`;
      throw invalid(file, lineOf(at?.range?.[0] ?? item?.range?.[0]), `entry ${i + 1}: ${why}`);
    }
    const e = r.data;
    return {
      selector: e.selector,
      metric: e.metric,
      ...(e.tags !== undefined && { tags: e.tags }),
      ...(e.func !== undefined && { func: e.func }),
      ...(e.op !== undefined && { op: e.op }),
      ...(e.right !== undefined && { right: e.right }),
      ...(e.max !== undefined && { maxStep: e.max }),
      ...(e.priority !== undefined && { priority: e.priority }),
      ...(e.note !== undefined && { note: e.note }),
      ...(e.run !== undefined && { run: e.run }),
      ...(e.off !== undefined && { off: e.off }),
    };
  });
}

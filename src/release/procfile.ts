/** The Procfile: `name: command` lines, as Heroku and foreman read them. */
import { NoopsError } from '../errors/index.js';
import { PROCESS_NAME_RE } from './fields.js';

/** One line of a Procfile. */
export interface ProcfileEntry {
  /** lower-cased name */
  name: string;
  command: string;
}

const LINE_RE = /^([A-Za-z0-9_-]+)[ \t]*:[ \t]*(.*)$/;
const HINT = 'fix the Procfile: one "name: command" per line, names of letters, digits, "-" and "_"';

/**
 * Parses a Procfile. Blank lines and `#` comments are ignored; names are folded to lower case.
 *
 * @example parseProcfile('web: node server.js\nWorker: node jobs.js\n')
 *   // [{ name: 'web', command: 'node server.js' }, { name: 'worker', command: 'node jobs.js' }]
 * @throws NoopsError NOOPS_E_MANIFEST naming the line, for a bad line, an empty command or a name used twice
 */
export function parseProcfile(text: string, file = 'Procfile'): ProcfileEntry[] {
  const entries: ProcfileEntry[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${file}:${i + 1}`;
    const m = LINE_RE.exec(line);
    if (!m) throw new NoopsError('NOOPS_E_MANIFEST', `${where}: "${line}" is not "name: command"`, { hint: HINT });
    const name = m[1].toLowerCase();
    const command = m[2].trim();
    if (!PROCESS_NAME_RE.test(name)) {
      throw new NoopsError(
        'NOOPS_E_MANIFEST',
        `${where}: "${m[1]}" is not a process name (letters, digits, "-" and "_", starting with a letter or digit)`,
        { hint: HINT },
      );
    }
    if (command === '') throw new NoopsError('NOOPS_E_MANIFEST', `${where}: process "${name}" has no command`, { hint: HINT });
    if (entries.some((e) => e.name === name)) {
      throw new NoopsError('NOOPS_E_MANIFEST', `${where}: process "${name}" is defined twice (names are case-insensitive)`, { hint: HINT });
    }
    entries.push({ name, command });
  }
  return entries;
}

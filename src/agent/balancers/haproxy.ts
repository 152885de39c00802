/**
 * A small client of HAProxy's runtime API (the `stats socket PATH level admin` of its global
 * section), one command per connection: HAProxy answers and closes. Answers are parsed strictly:
 * each command has one known form of success, and anything else (an unreachable socket, an error
 * text, a socket without `level admin`) is a NoopsError that says what was asked and what came back.
 *
 *   show servers state BACKEND     what the backend holds (address, port, state of each server)
 *   show stat BACKEND 4 -1         each server's open sessions (scur)
 *   add server B/ID ADDR:PORT      a dynamic server, born in maint
 *   add server ...; set server B/ID state ready   a join: both on one connection (one round trip)
 *   set server B/ID state S        ready | drain | maint
 *   set server B/ID addr A port P  moved in place
 *   del server B/ID                needs maint and no sessions left
 */
import { createConnection, isIPv6 } from 'node:net';
import type { MemberState } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';

/** How long one command may take, from connecting to the end of the answer. */
export const HAPROXY_TIMEOUT_MS = 5000;

/** One server of a backend as `show servers state` gives it. */
export interface HaproxyServer {
  id: string;
  address: string;
  port: number;
  state: MemberState;
}

// srv_admin_state's bits (HAProxy's SRV_ADMF_*): forced, inherited, config, resolution and
// hostname maintenance; forced and inherited drain.
const ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20 | 0x40;
const ADMIN_DRAIN = 0x08 | 0x10;

/** The state a server's `srv_admin_state` stands for. */
export function adminState(bits: number): MemberState {
  if (bits & ADMIN_MAINT) return 'maint';
  if (bits & ADMIN_DRAIN) return 'drain';
  return 'ready';
}

/** `ADDR:PORT` as `add server` takes it (an IPv6 address in brackets). */
export function hostPort(address: string, port: number): string {
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A refusal or a broken answer of HAProxy, naming the socket and the command. */
function failed(socket: string, command: string, answer: string): NoopsError {
  const said = answer.trim().split('\n').slice(0, 3).join(' / ') || '(an empty answer)';
  return new NoopsError('NOOPS_E_BALANCER_DRIVE', `haproxy at ${socket} refused \`${command}\`: ${said}`);
}

export class HaproxyClient {
  constructor(
    /** the runtime API's unix socket */
    readonly socket: string,
    private readonly timeoutMs = HAPROXY_TIMEOUT_MS,
  ) {}

  /** Sends one command (several: `;`-separated, from this file only) and answers HAProxy's whole answer. */
  command(command: string, several = false): Promise<string> {
    if ((several ? /[\n\r#]/ : /[\n\r;#]/).test(command))
      return Promise.reject(new NoopsError('NOOPS_E_INPUT', `not one haproxy command: ${JSON.stringify(command)}`));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const conn = createConnection(this.socket);
      const timer = setTimeout(() => {
        conn.destroy();
        reject(new NoopsError('NOOPS_E_BALANCER_DRIVE', `haproxy at ${this.socket} did not answer \`${command}\` in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      conn.on('connect', () => conn.end(`${command}\n`));
      conn.on('data', (chunk: Buffer) => chunks.push(chunk));
      conn.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          new NoopsError(
            'NOOPS_E_BALANCER_DRIVE',
            `cannot reach haproxy's runtime API at ${this.socket}: ${err.code ?? err.message} (is haproxy running with \`stats socket ${this.socket} level admin\`?)`,
            { cause: err },
          ),
        );
      });
      conn.on('close', (hadError) => {
        clearTimeout(timer);
        if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
  }

  /** Every server of `backend`, by `show servers state`. */
  async servers(backend: string): Promise<HaproxyServer[]> {
    const cmd = `show servers state ${backend}`;
    const answer = await this.command(cmd);
    const lines = answer.split('\n').filter((l) => l !== '');
    if (lines[0] !== '1' || !lines[1]?.startsWith('# ')) throw failed(this.socket, cmd, answer);
    const names = lines[1].slice(2).split(' ');
    const col = (name: string): number => {
      const i = names.indexOf(name);
      if (i < 0) throw failed(this.socket, cmd, `no column ${name} in: ${lines[1]}`);
      return i;
    };
    const [be, name, addr, admin, port] = ['be_name', 'srv_name', 'srv_addr', 'srv_admin_state', 'srv_port'].map(col) as number[];
    return lines.slice(2).map((line) => {
      const f = line.split(' ');
      const bits = Number(f[admin!]);
      const p = Number(f[port!]);
      if (f.length < names.length || f[be!] !== backend || !Number.isInteger(bits) || !Number.isInteger(p)) {
        throw failed(this.socket, cmd, `a line that does not parse: ${line}`);
      }
      return { id: f[name!]!, address: f[addr!]!, port: p, state: adminState(bits) };
    });
  }

  /** Each server's open sessions (`scur` of `show stat`), by server name. */
  async sessions(backend: string): Promise<Map<string, number>> {
    const cmd = `show stat ${backend} 4 -1`;
    const answer = await this.command(cmd);
    const lines = answer.split('\n').filter((l) => l !== '');
    if (!lines[0]?.startsWith('# pxname,')) throw failed(this.socket, cmd, answer);
    const names = lines[0].slice(2).split(',');
    const [px, sv, scur] = ['pxname', 'svname', 'scur'].map((n) => names.indexOf(n)) as number[];
    if (sv! < 0 || scur! < 0) throw failed(this.socket, cmd, `no svname or scur in: ${lines[0]}`);
    const out = new Map<string, number>();
    for (const line of lines.slice(1)) {
      // only the first columns are read: later free-text ones may hold commas
      const f = line.split(',');
      const n = Number(f[scur!]);
      if (f[px!] !== backend || f[scur!] === '' || !Number.isInteger(n))
        throw failed(this.socket, cmd, `a line that does not parse: ${line}`);
      out.set(f[sv!]!, n);
    }
    return out;
  }

  /** Adds a server (HAProxy makes it in maint: nothing is sent to it until its state is set). */
  async add(backend: string, id: string, address: string, port: number): Promise<void> {
    await this.expect(`add server ${backend}/${id} ${hostPort(address, port)}`, /^New server registered\.$/);
  }

  /**
   * Adds a server and sets it ready, both on one connection (HAProxy runs the commands of a line
   * in turn, each answer ended by an empty line; `set server`'s success is an empty answer): a
   * join costs one round trip, not two. HAProxy's `enabled` keyword is no shortcut: a dynamic
   * server born with it is listed ready but gets no request until its state is set.
   * Throws when the add was refused; answers the refusal of the state (the server is then held,
   * in maint), or undefined when both worked. HAProxy runs the second command even when the first
   * was refused: a server of that id that the apply's read did not show (only noops fills the
   * backend) is set ready, as the pool wants that id; the next apply's read moves its address.
   */
  async addReady(backend: string, id: string, address: string, port: number): Promise<NoopsError | undefined> {
    const add = `add server ${backend}/${id} ${hostPort(address, port)}`;
    const ready = `set server ${backend}/${id} state ready`;
    const added = 'New server registered.\n\n';
    const answer = await this.command(`${add}; ${ready}`, true);
    if (!answer.startsWith(added)) throw failed(this.socket, add, answer.split('\n\n')[0] ?? answer);
    return answer === `${added}\n` ? undefined : failed(this.socket, ready, answer.slice(added.length));
  }

  async setState(backend: string, id: string, state: MemberState): Promise<void> {
    await this.expect(`set server ${backend}/${id} state ${state}`, /^$/);
  }

  async setAddress(backend: string, id: string, address: string, port: number): Promise<void> {
    await this.expect(`set server ${backend}/${id} addr ${address} port ${port}`, /^(IP changed from|no need to change the addr)/);
  }

  /**
   * Deletes a server in maint. Answers false when HAProxy keeps it because sessions remain
   * (the caller tries again later); any other refusal throws.
   */
  async remove(backend: string, id: string): Promise<boolean> {
    const cmd = `del server ${backend}/${id}`;
    const answer = (await this.command(cmd)).trim();
    if (answer === 'Server deleted.') return true;
    if (/still has connections/i.test(answer)) return false;
    throw failed(this.socket, cmd, answer);
  }

  private async expect(cmd: string, success: RegExp): Promise<void> {
    const answer = await this.command(cmd);
    if (!success.test(answer.trim())) throw failed(this.socket, cmd, answer);
  }
}

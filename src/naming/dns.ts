/**
 * The DNS server of naming (`noops server --dns 127.0.0.1:8600`): A, AAAA and SRV records for
 * the names under `noops.` (names.ts), over UDP and TCP, from the naming view. Answers carry a
 * short TTL (`DNS_TTL_S`) so that a deploy is seen within seconds; a name noops does not know is
 * NXDOMAIN, a name outside `noops.` is REFUSED (this is no recursive resolver).
 *
 * dns-packet (5.6, pinned) only encodes and decodes messages: the sockets, the answers and their
 * limits are ours, a few dozen lines, where dns2 would bring its own server loop and resolver.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv4, isIPv6, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import * as packet from 'dns-packet';
import { NoopsError } from '../errors/index.js';
import type { NamingEndpoint } from '../api/index.js';
import { matches, type Selector } from '../tree/index.js';
import { HOST_LABEL, ZONE, dnsQuestion } from './names.js';

/** Seconds a resolver may keep an answer: a deploy, a stop or a failed health check is seen within this. */
export const DNS_TTL_S = 5;
/** A UDP answer larger than this (without EDNS) is sent truncated: the resolver asks again over TCP. */
const UDP_PLAIN_MAX = 512;
/** The largest UDP answer sent whatever EDNS offers. */
const UDP_EDNS_MAX = 4096;
/** A TCP connection idle this long is closed. */
const TCP_IDLE_MS = 10_000;

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** What the DNS server reads: the naming view's answers, the tree's nodes, the hosts' addresses. */
export interface DnsSource {
  /** healthy endpoints matching a selector (of one process when given) */
  endpoints(selector: Selector, process?: string): NamingEndpoint[];
  /** every node of the service tree (a name of no node is NXDOMAIN) */
  nodes(): Promise<Iterable<string>>;
  /** a host's address by its name in lower case; undefined when no such host */
  hostAddress(host: string): string | null | undefined;
  /** a lookup of `selector` from `address` (for who depends on whom) */
  looked?(address: string, selector: Selector): void;
}

/** The answer to one DNS query message (pure but for the source's reads). */
export async function answerQuery(query: packet.DecodedPacket, source: DnsSource, from: string): Promise<packet.Packet> {
  const question = query.questions?.[0];
  const reply = (rcode: number, answers: packet.Answer[] = [], additionals: packet.Answer[] = []): packet.Packet => ({
    type: 'response',
    id: query.id,
    flags: packet.AUTHORITATIVE_ANSWER | (query.flag_rd ? packet.RECURSION_DESIRED : 0) | rcode,
    questions: question ? [question] : [],
    answers,
    additionals,
  });
  if (!question || (query.questions?.length ?? 0) !== 1) return reply(RCODE.FORMERR);
  const asked = dnsQuestion(question.name);
  const name = question.name;
  if (asked.kind === 'foreign') return reply(RCODE.REFUSED);
  if (asked.kind === 'unknown') return reply(RCODE.NXDOMAIN);
  if (asked.kind === 'host') {
    const address = source.hostAddress(asked.host);
    if (address === undefined) return reply(RCODE.NXDOMAIN);
    return reply(RCODE.NOERROR, addressRecords(name, question.type, address === null ? [] : [address]));
  }
  const endpoints = source.endpoints(asked.selector, asked.process);
  // a known node with nothing healthy answers empty, an unknown name NXDOMAIN: the tree is read only then
  if (endpoints.length === 0 && !anyMatch(await source.nodes(), asked.selector)) return reply(RCODE.NXDOMAIN);
  source.looked?.(from, asked.selector);
  if (question.type === 'SRV') {
    const listening = endpoints.filter((e) => e.port !== null);
    const answers: packet.Answer[] = listening.map((e) => ({
      type: 'SRV',
      name,
      ttl: DNS_TTL_S,
      data: { priority: 10, weight: 10, port: e.port!, target: `${e.host.toLowerCase()}.${HOST_LABEL}.${ZONE}` },
    }));
    const targets = new Map(listening.map((e) => [e.host.toLowerCase(), e.address]));
    const additionals = [...targets].flatMap(([host, address]) =>
      address === null ? [] : addressRecords(`${host}.${HOST_LABEL}.${ZONE}`, isIPv6(address) ? 'AAAA' : 'A', [address]),
    );
    return reply(RCODE.NOERROR, answers, additionals);
  }
  const addresses = [...new Set(endpoints.flatMap((e) => (e.address === null ? [] : [e.address])))];
  return reply(RCODE.NOERROR, addressRecords(name, question.type, addresses));
}

/** A or AAAA records of the addresses of that family (none for another type: NODATA). */
function addressRecords(name: string, type: string, addresses: readonly string[]): packet.Answer[] {
  if (type === 'A') return addresses.filter((a) => isIPv4(a)).map((data) => ({ type: 'A', name, ttl: DNS_TTL_S, data }));
  if (type === 'AAAA') return addresses.filter((a) => isIPv6(a)).map((data) => ({ type: 'AAAA', name, ttl: DNS_TTL_S, data }));
  return [];
}

/** A running DNS server. */
export interface RunningDns {
  /** the UDP and TCP port (the same) */
  port: number;
  host: string;
  close(): Promise<void>;
}

/**
 * Port 0 takes a free UDP port, and TCP must then take the same number, which another process
 * may hold (seen in CI with tens of thousands of TCP sockets open on the machine): a few tries
 * with another free UDP port each make that a non-event.
 */
const FREE_PORT_TRIES = 8;

/**
 * Serves DNS on `host:port` over UDP and TCP (port 0: a free one, the same for both). Throws
 * `NOOPS_E_DNS_LISTEN` when the address cannot be bound (8600 taken by a Consul agent).
 */
export async function startDns(
  listen: { host: string; port: number },
  source: DnsSource,
  log: (line: string) => void = () => {},
): Promise<RunningDns> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bindDns(listen, source, log);
    } catch (err) {
      const taken = ((err as NoopsError).cause as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
      if (listen.port !== 0 || !taken || attempt >= FREE_PORT_TRIES) throw err;
    }
  }
}

async function bindDns(listen: { host: string; port: number }, source: DnsSource, log: (line: string) => void): Promise<RunningDns> {
  const udp = createSocket(isIPv6(listen.host) ? 'udp6' : 'udp4');
  const handleUdp = (msg: Buffer, rinfo: RemoteInfo): void => {
    void respond(msg, source, rinfo.address, true)
      .then((out) => out && udp.send(out, rinfo.port, rinfo.address))
      .catch((err: Error) => log(`noops dns: ${err.message}\n`));
  };
  udp.on('message', handleUdp);
  udp.on('error', (err) => log(`noops dns: ${err.message}\n`));
  const port = await new Promise<number>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(listen.port, listen.host, () => {
      udp.off('error', reject);
      resolve(udp.address().port);
    });
  }).catch((err: Error) => {
    udp.close();
    throw listenError(listen, err);
  });
  const sockets = new Set<import('node:net').Socket>();
  const tcp = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const msg = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        void respond(msg, source, socket.remoteAddress ?? '', false)
          .then((out) => {
            if (!out || socket.destroyed) return;
            const framed = Buffer.alloc(2 + out.length);
            framed.writeUInt16BE(out.length, 0);
            out.copy(framed, 2);
            socket.write(framed);
          })
          .catch((err: Error) => log(`noops dns: ${err.message}\n`));
      }
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, listen.host, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    udp.close();
    throw listenError({ host: listen.host, port }, err as Error);
  }
  let closing: Promise<void> | undefined;
  return {
    port,
    host: listen.host,
    close: () => (closing ??= closeBoth(udp, tcp, sockets)),
  };
}

async function closeBoth(udp: Socket, tcp: TcpServer, sockets: Set<import('node:net').Socket>): Promise<void> {
  await new Promise<void>((resolve) => udp.close(() => resolve()));
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => tcp.close(() => resolve()));
}

function listenError(listen: { host: string; port: number }, err: Error): NoopsError {
  return new NoopsError('NOOPS_E_DNS_LISTEN', `the DNS server cannot listen on ${listen.host}:${listen.port}: ${err.message}`, {
    cause: err,
  });
}

/** Decodes, answers and encodes one message; undefined for what cannot be read at all (dropped). */
async function respond(msg: Buffer, source: DnsSource, from: string, udp: boolean): Promise<Buffer | undefined> {
  let query: packet.DecodedPacket;
  try {
    query = packet.decode(msg);
  } catch {
    return undefined; // not a DNS message: nothing to answer
  }
  if (query.type !== 'query') return undefined;
  let answer: packet.Packet;
  try {
    answer = await answerQuery(query, source, from);
  } catch (err) {
    answer = { type: 'response', id: query.id, flags: RCODE.SERVFAIL, questions: query.questions?.slice(0, 1) ?? [] };
    process.emitWarning(`noops dns: answering ${query.questions?.[0]?.name ?? '?'} failed: ${(err as Error).message}`);
  }
  let out = packet.encode(answer);
  if (udp) {
    const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    const max = opt ? Math.min(Math.max(opt.udpPayloadSize ?? UDP_PLAIN_MAX, UDP_PLAIN_MAX), UDP_EDNS_MAX) : UDP_PLAIN_MAX;
    if (out.length > max) {
      out = packet.encode({ ...answer, flags: (answer.flags ?? 0) | packet.TRUNCATED_RESPONSE, answers: [], additionals: [] });
    }
  }
  return out;
}

/** Whether a node of the tree is `selector`'s (stops at the first). */
function anyMatch(nodes: Iterable<string>, selector: Parameters<typeof matches>[0]): boolean {
  for (const tag of nodes) if (matches(selector, tag)) return true;
  return false;
}

/**
 * The agent's side of trust (trust.ts decides): checks each join answer and desired state,
 * remembers the server in the state (saved before anything is applied), says why in the log
 * once per change, and gives the report its `trust` field.
 */
import { randomUUID } from 'node:crypto';
import type { DesiredState, SigningKey, TrustReport } from '../../api/index.js';
import type { Host } from '../host.js';
import { trustedKey, type KeyPin } from './signing.js';
import { accept, checkServer, checkStops, refuse, trustReport, type RefusalKind } from './trust.js';

export class ServerTrust {
  /** the last line logged about trust: the log says each change once */
  #said: string | undefined;

  constructor(
    private readonly host: Host,
    private readonly hostName: string,
    private readonly log: (line: string) => void,
    /** told when the trust changed (the agent reports at once) */
    private readonly changed: () => void,
    /** the release signing key the agent pinned (docs/trust.md#signed-releases) */
    private readonly pin: KeyPin,
  ) {}

  /** The report's `trust` field. */
  report(): TrustReport {
    return trustReport(this.host.state.server);
  }

  /**
   * Checks a join answer: joining a server whose database has another identity (an emptied one,
   * which no longer knew the agent's token) is where a replaced database shows first.
   */
  joined(serverId: string | undefined, signing: SigningKey | undefined): void {
    if (serverId === undefined) return; // a server before issue 12
    const memory = this.host.state.server;
    const key = signing && trustedKey(signing);
    const d = checkServer(memory, { id: serverId, key: key?.keyId }, this.pin.key?.keyId);
    if (!d.accept) {
      this.#refuse(d.kind, d.reason, serverId, 'joined the server again, but refuses its answers');
      return;
    }
    if (memory === undefined) this.#remember(serverId, undefined);
    if (key !== undefined && this.pin.key === undefined)
      this.#say(`pinned the server's release signing key ${this.pin.pin(key).keyId}: only releases it signed are installed`);
  }

  /** True when the agent may apply this desired state; false (said and reported) when not. */
  accepts(ds: DesiredState): boolean {
    const memory = this.host.state.server;
    const server = ds.server;
    // the pinned key's id was computed when it was pinned: not hashed again at every answer
    const pinned = this.pin.key;
    const key = ds.signing && (pinned !== undefined && ds.signing.publicKey === pinned.publicKey ? pinned : trustedKey(ds.signing));
    // A server before issue 12 names no identity: an agent that never knew one follows it as before.
    if (server === undefined && memory === undefined && this.pin.key === undefined) return true;
    const d = checkServer(
      memory,
      { id: server?.id, generation: ds.generation, adopted: server?.adopted, key: key?.keyId },
      this.pin.key?.keyId,
    );
    if (!d.accept) {
      this.#refuse(d.kind, d.reason, server?.id, `refuses the desired state at generation ${ds.generation}`);
      return false;
    }
    if (!d.adopted) {
      // An adopted answer is an admin's decision: the share of stops is not checked.
      const why = checkStops(
        Object.keys(this.host.state.instances),
        ds.instances.map((i) => i.tag),
        ds.stops ?? [],
      );
      if (why !== undefined) {
        this.#refuse('stops', why, server?.id, `refuses the desired state at generation ${ds.generation}`);
        return false;
      }
    }
    const was = memory?.refusal;
    this.#remember(server!.id, ds.generation);
    if (key !== undefined && key.keyId !== this.pin.key?.keyId) {
      // An agent that joined before signing pins the first key it accepts; an adoption re-pins.
      const before = this.pin.key;
      this.pin.pin(key);
      this.log(
        before === undefined
          ? `pinned the server's release signing key ${key.keyId} from its desired state at generation ${ds.generation} (this agent joined before signed releases): only releases it signed are installed`
          : `an admin adopted this server: pinned its release signing key ${key.keyId} in place of ${before.keyId}`,
      );
    }
    if (d.adopted) {
      const stops = Object.keys(this.host.state.instances).filter((t) => !ds.instances.some((i) => i.tag === t));
      this.#say(
        `an admin adopted server ${server!.id} for this host (refusal ${was!.id}): applying its desired state at generation ${ds.generation}` +
          (stops.length > 0 ? `, which stops ${stops.join(', ')}` : ', which stops nothing'),
      );
    } else if (was !== undefined) {
      this.#say(`the server's desired state is acceptable again (generation ${ds.generation}): applying it`);
    }
    return true;
  }

  #remember(id: string, generation: number | undefined): void {
    const was = this.host.state.server;
    this.host.state.server = accept(was, id, generation);
    if (was?.refusal !== undefined) this.changed();
    this.host.save(); // before anything is applied: a restart must not forget what it accepted
  }

  #refuse(kind: RefusalKind, reason: string, serverId: string | undefined, what: string): void {
    const was = this.host.state.server;
    // An agent that never accepted a server refuses on the stops rule alone; it then remembers the identity it met.
    const base = was ?? { id: serverId ?? '', generation: 0 };
    const next = refuse(base, kind, reason, randomUUID, new Date());
    this.host.state.server = next;
    this.host.save();
    this.#say(
      `${what}: ${reason}. Every process keeps running; an admin can accept this server with \`noops host adopt ${this.hostName}\` (refusal ${next.refusal!.id})`,
    );
    if (was?.refusal?.id !== next.refusal!.id || was.refusal.reason !== reason) this.changed();
  }

  #say(line: string): void {
    if (line === this.#said) return;
    this.#said = line;
    this.log(line);
  }
}

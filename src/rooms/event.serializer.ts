/**
 * Turns stored events into the wire shape of the proto `Event` (common.proto), with `unsigned`
 * computed at read time: age, replaces_state/prev_content/prev_sender, redacted_because (and the
 * content pruned by the room version's redaction rules), transaction_id for the sending device.
 * `EventView` is structurally the generated `Event` type, so handlers pass it through as is.
 */
import type { Em } from '../infra/orm';
import { EventRepository } from './event.repository';
import { roomVersionOf, type RoomVersion } from './room-versions';
import type { Json, StoredEvent } from './room.types';
import { txnScopeOf } from './txn';

export interface EventView {
  eventId: string;
  roomId: string;
  type: string;
  stateKey?: string | undefined;
  sender: string;
  content: Json;
  originServerTs: number;
  unsigned: Json;
  redacts?: string | undefined;
  depth: number;
  streamOrdering: number;
  prevEvents: string[];
  authEvents: string[];
  outlier: boolean;
  rejected: boolean;
}

export interface SerializeOptions {
  /** Reference time for `age` (default now). */
  now?: number;
  /** The caller: `transaction_id` is added to their own events sent from the same device/token. */
  requester?: { userId: string; deviceId?: string | null; tokenId?: number | null } | null;
}

/**
 * Shows an event in its pruned form (an erased sender's, to a reader who was not joined when it was
 * sent): the content a redaction keeps, and no previous state content or bundled aggregations.
 */
export function pruneView(view: EventView, roomVersion: string, e: { type: string; content: Json }): void {
  view.content = prunedContent(roomVersionOf(roomVersion), e.type, e.content);
  delete view.unsigned.prev_content;
  delete view.unsigned.prev_sender;
  delete view.unsigned['m.relations'];
}

/** The content kept by a redaction (Synapse's prune_event_dict). */
export function prunedContent(version: RoomVersion, type: string, content: Json): Json {
  const keep = (...keys: string[]) => Object.fromEntries(keys.filter((k) => k in content).map((k) => [k, content[k]]));
  let out: Json = {};
  switch (type) {
    case 'm.room.member':
      out = keep('membership', ...(version.restrictedJoinRuleFix ? ['join_authorised_via_users_server'] : []));
      if (version.updatedRedactionRules && content.third_party_invite && typeof content.third_party_invite === 'object') {
        const tpi = content.third_party_invite as Json;
        out.third_party_invite = 'signed' in tpi ? { signed: tpi.signed } : {};
      }
      break;
    case 'm.room.create':
      out = version.updatedRedactionRules ? { ...content } : version.implicitRoomCreator ? {} : keep('creator');
      break;
    case 'm.room.join_rules':
      out = keep('join_rule', ...(version.restrictedJoinRule ? ['allow'] : []));
      break;
    case 'm.room.power_levels':
      out = keep(
        'users',
        'users_default',
        'events',
        'events_default',
        'state_default',
        'ban',
        'kick',
        'redact',
        ...(version.updatedRedactionRules ? ['invite'] : []),
      );
      break;
    case 'm.room.aliases':
      if (version.specialCaseAliasesAuth) out = keep('aliases');
      break;
    case 'm.room.history_visibility':
      out = keep('history_visibility');
      break;
    case 'm.room.redaction':
      if (version.updatedRedactionRules) out = keep('redacts');
      break;
  }
  return out;
}

export class EventSerializer {
  constructor(private readonly events = new EventRepository()) {}

  /**
   * Serialises events (order preserved) with their `unsigned` computed; three batched reads at
   * most (replaced state, redactions, room versions), none when nothing needs them.
   */
  async serialize(em: Em, events: StoredEvent[], opts: SerializeOptions = {}): Promise<EventView[]> {
    const now = opts.now ?? Date.now();
    const replaced = [...new Set(events.map((e) => e.replacesState).filter((x): x is string => !!x))];
    const redactionIds = [...new Set(events.map((e) => e.redactedBy).filter((x): x is string => !!x))];
    const [prev, redactions, versions] = await Promise.all([
      this.events.getContents(em, replaced),
      this.events.getEvents(em, redactionIds),
      redactionIds.length
        ? this.events.getRoomVersions(em, [...new Set(events.filter((e) => e.redactedBy).map((e) => e.roomId))])
        : Promise.resolve(new Map<string, string>()),
    ]);
    const redactionById = new Map(redactions.map((r) => [r.eventId, r]));
    return events.map((e) => {
      const view = this.view(e, now, opts.requester ?? null);
      const p = e.replacesState ? prev.get(e.replacesState) : undefined;
      if (e.replacesState) view.unsigned.replaces_state = e.replacesState;
      if (p) {
        view.unsigned.prev_content = p.content;
        view.unsigned.prev_sender = p.sender;
      }
      const redaction = e.redactedBy ? redactionById.get(e.redactedBy) : undefined;
      if (redaction) {
        view.content = prunedContent(roomVersionOf(versions.get(e.roomId) ?? '10'), e.type, e.content);
        view.unsigned.redacted_by = redaction.eventId;
        view.unsigned.redacted_because = this.view(redaction, now, opts.requester ?? null);
      }
      return view;
    });
  }

  /** One event without the batched lookups (no prev_content, no redaction). */
  view(e: StoredEvent, now: number, requester: SerializeOptions['requester']): EventView {
    const unsigned: Json = { age: Math.max(0, now - e.originServerTs) };
    if (requester && requester.userId === e.sender && e.txnId && e.txnScope && e.txnScope === txnScopeOf(requester))
      unsigned.transaction_id = e.txnId;
    return {
      eventId: e.eventId,
      roomId: e.roomId,
      type: e.type,
      stateKey: e.stateKey ?? undefined,
      sender: e.sender,
      content: e.content,
      originServerTs: e.originServerTs,
      unsigned,
      redacts: e.redacts ?? undefined,
      depth: e.depth,
      streamOrdering: e.streamOrdering,
      prevEvents: e.prevEvents,
      authEvents: e.authEvents,
      outlier: e.outlier,
      rejected: e.rejectedReason !== null,
    };
  }
}

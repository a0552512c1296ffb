/**
 * Events as Synapse serialises them to clients and admins, used by the gateway (for proto `Event`s
 * it receives) and by the server (for pages it renders as JSON bodies). Client format (spec §5.6):
 * the event's public keys with `unsigned` computed upstream, DAG internals removed, and the legacy
 * v1 copies (`user_id`, and `age`/`redacted_because`/`replaces_state`/`prev_content` mirrored at
 * the top level).
 * Federation format: the PDU (auth/prev events, depth, hashes) plus `event_id` and `unsigned`.
 * `content` and `unsigned` arrive as JSON text (`content_json`, `unsigned_json`); events nested in
 * `unsigned` (`redacted_because`, bundled relations) arrive inside that JSON as objects with the
 * proto's field names, and are presented the same way. The service's EventView has the same
 * shape as a decoded Event, so it is presented directly. The types here are this module's own:
 * the contract's `Event` message has these fields, so it is accepted as it is.
 */
import { createHash } from 'node:crypto';

type Json = Record<string, unknown>;

/** The fields of an event the presenters read, whatever carries them. */
interface EventFields {
  eventId: string;
  roomId: string;
  type: string;
  /** Present (possibly empty) for state events only. */
  stateKey?: string | undefined;
  sender: string;
  originServerTs: number;
  redacts?: string | undefined;
  depth: number;
  prevEvents: string[];
  authEvents: string[];
}

/** An event with `content` and `unsigned` as JSON text, as the contract's `Event` carries them. */
export interface EncodedEvent extends EventFields {
  contentJson: string;
  unsignedJson: string;
}

/** An event with `content` and `unsigned` as objects: a decoded `Event`, or one nested in `unsigned`. */
export interface EventData extends EventFields {
  content: Json;
  unsigned: Json;
}

/** What the presenters accept: an event as received, or an already decoded one. */
export type AnyEvent = EncodedEvent | EventData;

/** The two serialisations of events: the client-server API's, or the federation PDU (`raw`). */
export type EventFormat = 'client' | 'federation';

const parseObject = (text: string): Json => (text ? (JSON.parse(text) as Json) : {});

/** The event with its JSON fields parsed (decoded events are returned as they are). */
export function decodeEvent(e: AnyEvent): EventData {
  if (!('contentJson' in e)) return e;
  const { contentJson, unsignedJson, ...rest } = e;
  return { ...rest, content: parseObject(contentJson), unsigned: parseObject(unsignedJson) };
}

/** Keys of `unsigned` Synapse also copies to the top level of client events (legacy v1 format). */
const LEGACY_UNSIGNED_COPIES = ['age', 'redacted_because', 'replaces_state', 'prev_content', 'invite_room_state', 'knock_room_state'];
/** Keys of `unsigned` never shown to clients. */
const PRIVATE_UNSIGNED = ['age_ts', 'invite_room_state', 'knock_room_state'];

export interface ClientFormatOptions {
  /** Add the legacy v1 top-level copies (default true, as Synapse's default serialiser). */
  legacy?: boolean;
}

export function isEvent(v: unknown): v is EventData {
  return !!v && typeof v === 'object' && typeof (v as EventData).eventId === 'string' && typeof (v as EventData).roomId === 'string';
}

/** `redacts` is mirrored between the top level and the content of redactions (room versions differ). */
function mirrorRedacts(e: EventData, out: Json, content: Json): void {
  if (e.type !== 'm.room.redaction') return;
  const redacts = e.redacts ?? (typeof content.redacts === 'string' ? content.redacts : undefined);
  if (redacts === undefined) return;
  out.redacts = redacts;
  out.content = { ...content, redacts };
}

/** Synapse's client serialisation of one event. */
export function toClientEvent(event: AnyEvent, opts: ClientFormatOptions = {}): Json {
  const e = decodeEvent(event);
  const legacy = opts.legacy ?? true;
  const content = e.content ?? {};
  const unsigned: Json = { ...(e.unsigned ?? {}) };
  if (isEvent(unsigned.redacted_because)) unsigned.redacted_because = toClientEvent(unsigned.redacted_because, opts);
  const out: Json = {
    content,
    event_id: e.eventId,
    origin_server_ts: e.originServerTs,
    room_id: e.roomId,
    sender: e.sender,
    type: e.type,
  };
  if (e.stateKey !== undefined) out.state_key = e.stateKey;
  mirrorRedacts(e, out, content);
  if (legacy) {
    out.user_id = e.sender;
    for (const k of LEGACY_UNSIGNED_COPIES) if (k in unsigned) out[k] = unsigned[k];
  }
  for (const k of PRIVATE_UNSIGNED) delete unsigned[k];
  out.unsigned = unsigned;
  return out;
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Json)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The PDU of one event (federation format), with `event_id` and `unsigned`. */
export function toFederationEvent(event: AnyEvent): Json {
  const e = decodeEvent(event);
  const pdu: Json = {
    auth_events: e.authEvents,
    content: e.content ?? {},
    depth: e.depth,
    origin_server_ts: e.originServerTs,
    prev_events: e.prevEvents,
    room_id: e.roomId,
    sender: e.sender,
    type: e.type,
  };
  if (e.stateKey !== undefined) pdu.state_key = e.stateKey;
  if (e.redacts !== undefined) pdu.redacts = e.redacts;
  pdu.hashes = { sha256: createHash('sha256').update(canonicalJson(pdu)).digest('base64').replace(/=+$/, '') };
  pdu.signatures = {};
  const unsigned: Json = { ...(e.unsigned ?? {}) };
  if (isEvent(unsigned.redacted_because)) unsigned.redacted_because = toFederationEvent(unsigned.redacted_because);
  delete unsigned.age_ts;
  return { ...pdu, event_id: e.eventId, unsigned };
}

/** Either format, as the request asked (`raw` / filter `event_format`). */
export function presentEvent(e: AnyEvent, format: EventFormat = 'client', opts: ClientFormatOptions = {}): Json {
  return format === 'federation' ? toFederationEvent(e) : toClientEvent(e, opts);
}

/** `unsigned` with the events nested in its bundled aggregations presented in `format`. */
function presentRelations(unsigned: Json, format: EventFormat): Json {
  const relations = unsigned['m.relations'] as Json | undefined;
  if (!relations) return unsigned;
  const out: Json = { ...relations };
  if (isEvent(out['m.replace'])) out['m.replace'] = presentEvent(out['m.replace'], format);
  const thread = out['m.thread'] as Json | undefined;
  if (thread && isEvent(thread.latest_event))
    out['m.thread'] = { ...thread, latest_event: presentWithRelations(thread.latest_event, format) };
  return { ...unsigned, 'm.relations': out };
}

/** An event with the events nested in its bundled aggregations presented in the same format. */
export function presentWithRelations(event: AnyEvent, format: EventFormat): Json {
  const e = decodeEvent(event);
  return presentEvent({ ...e, unsigned: presentRelations(e.unsigned, format) }, format);
}

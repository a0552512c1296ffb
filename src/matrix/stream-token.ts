/**
 * Synapse's pagination tokens (spec §5.2), parsed strictly and re-serialised canonically, so a
 * canonical token a client sends is echoed back byte for byte.
 *
 * A `StreamToken` is 10 `_`-separated parts: the room key, then presence, typing, receipts,
 * account data, push rules, to-device, device lists, groups and un-partial-stated rooms. Missing
 * trailing parts default to `0` (old clients send shorter tokens); more than 10 parts or any
 * malformed part makes the token invalid.
 *
 * The room key (`RoomStreamToken`) has three forms:
 * - live `s<stream>`: the position just after the event with that stream ordering;
 * - historic `t<depth>-<stream>`: ordered by (depth, stream ordering);
 * - multi-writer live `m<min>~<instance>.<pos>~...`: per-writer positions ahead of `min`. This
 *   service has a single event writer, so such a token is honoured through its min/max positions
 *   (the stream bounds of pagination use its min or max position), never emitted by us except
 *   when echoing a client's token.
 */
import { badRequest } from '../errors';

/** Parts of a StreamToken after the room key. */
const OTHER_PART_COUNT = 9;
/** Index (among the non-room parts) of the receipts key, the only other multi-writer part. */
const RECEIPT_PART = 2;
/**
 * An integer as Python's int() reads it (Synapse parses every position with it): optional ASCII
 * whitespace around, an optional sign. Underscores, which int() also allows between digits, cannot
 * occur: they separate the token's parts.
 */
const PY_INT = /^[ \t\n\r\f\v]*([+-]?\d+)[ \t\n\r\f\v]*$/;

export class InvalidTokenError extends Error {
  constructor(token: string) {
    super(`Invalid stream token ${JSON.stringify(token)}`);
    this.name = 'InvalidTokenError';
  }
}

/** A position in a room's timeline. Exactly one of `topological` / a non-empty `instances` may be set. */
export interface RoomStreamToken {
  /** Event depth for historic tokens; null for live tokens. */
  readonly topological: number | null;
  /** Stream ordering (the minimum position for multi-writer tokens). */
  readonly stream: number;
  /** Multi-writer positions by instance id, in the order given; every position is > `stream`. */
  readonly instances: ReadonlyMap<number, number>;
}

export interface StreamToken {
  readonly room: RoomStreamToken;
  /** The other nine parts, each already validated and in canonical text form. */
  readonly others: readonly string[];
}

const NO_INSTANCES: ReadonlyMap<number, number> = new Map();

/**
 * A position. Negative ones are valid, as in Synapse (where backfilled events have negative
 * stream orderings): here every event's stream ordering and depth are positive, so a negative
 * position lies before all of them, like 0. A position beyond the safe integer range (Synapse's
 * integers are unbounded) is held as the largest safe one of its sign, which lies beyond every
 * event just the same; such a token is echoed with that bound.
 */
function integer(text: string, whole: string): number {
  const m = PY_INT.exec(text);
  if (!m) throw new InvalidTokenError(whole);
  const n = Number(m[1]);
  // Number('-0') is -0, which prints as "0": Synapse's int('-0') is 0 too.
  if (n === 0) return 0;
  return Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, n));
}

/** Parses `<min>~<id>.<pos>~...` (the text after the `m`). */
function parseMultiWriter(text: string, whole: string): { stream: number; instances: Map<number, number> } {
  const [first, ...entries] = text.split('~');
  const stream = integer(first, whole);
  const instances = new Map<number, number>();
  for (const entry of entries) {
    // `m5~` was once emitted by a Synapse bug; empty entries are tolerated.
    if (entry === '') continue;
    const parts = entry.split('.');
    if (parts.length !== 2) throw new InvalidTokenError(whole);
    const pos = integer(parts[1], whole);
    if (pos <= stream) throw new InvalidTokenError(whole);
    instances.set(integer(parts[0], whole), pos);
  }
  return { stream, instances };
}

/** Parses a room key; throws InvalidTokenError. */
export function parseRoomToken(text: string): RoomStreamToken {
  const kind = text[0];
  const body = text.slice(1);
  if (kind === 's') return { topological: null, stream: integer(body, text), instances: NO_INSTANCES };
  if (kind === 't') {
    const dash = body.indexOf('-');
    if (dash < 0) throw new InvalidTokenError(text);
    return { topological: integer(body.slice(0, dash), text), stream: integer(body.slice(dash + 1), text), instances: NO_INSTANCES };
  }
  if (kind === 'm') {
    const { stream, instances } = parseMultiWriter(body, text);
    return { topological: null, stream, instances };
  }
  throw new InvalidTokenError(text);
}

/** Canonical text of a room key. */
export function roomTokenToString(t: RoomStreamToken): string {
  if (t.topological !== null) return `t${t.topological}-${t.stream}`;
  const entries = [...t.instances].filter(([, pos]) => pos > t.stream).map(([id, pos]) => `${id}.${pos}`);
  return entries.length > 0 ? `m${t.stream}~${entries.join('~')}` : `s${t.stream}`;
}

function canonicalOtherPart(text: string, index: number, whole: string): string {
  if (index === RECEIPT_PART) {
    if (text.startsWith('m')) {
      const { stream, instances } = parseMultiWriter(text.slice(1), whole);
      const entries = [...instances].map(([id, pos]) => `${id}.${pos}`);
      return entries.length > 0 ? `m${stream}~${entries.join('~')}` : String(stream);
    }
    // Synapse's multi-writer key starts with a digit or `m`: no sign, no whitespace.
    if (!/^\d/.test(text)) throw new InvalidTokenError(whole);
  }
  return String(integer(text, whole));
}

/** Parses a full StreamToken; throws InvalidTokenError. */
export function parseStreamToken(text: string): StreamToken {
  const parts = text.split('_');
  if (parts.length > OTHER_PART_COUNT + 1) throw new InvalidTokenError(text);
  let room: RoomStreamToken;
  try {
    room = parseRoomToken(parts[0]);
  } catch {
    throw new InvalidTokenError(text);
  }
  const others: string[] = [];
  for (let i = 0; i < OTHER_PART_COUNT; i++) others.push(canonicalOtherPart(parts[i + 1] ?? '0', i, text));
  return { room, others };
}

export function streamTokenToString(t: StreamToken): string {
  return [roomTokenToString(t.room), ...t.others].join('_');
}

/** The token for the very start of every stream: `s0_0_0_0_0_0_0_0_0_0`. */
export const START_TOKEN: StreamToken = {
  room: { topological: null, stream: 0, instances: NO_INSTANCES },
  others: Array(OTHER_PART_COUNT).fill('0'),
};

/** A copy of `t` with its room key replaced. */
export function withRoomKey(t: StreamToken, room: RoomStreamToken): StreamToken {
  return { room, others: t.others };
}

export function historicToken(depth: number, stream: number): RoomStreamToken {
  return { topological: depth, stream, instances: NO_INSTANCES };
}

export function liveToken(stream: number): RoomStreamToken {
  return { topological: null, stream, instances: NO_INSTANCES };
}

/** The highest stream position a token refers to (its `stream` unless writers are ahead). */
export function maxStreamPos(t: RoomStreamToken): number {
  let max = t.stream;
  for (const pos of t.instances.values()) if (pos > max) max = pos;
  return max;
}

/**
 * `a <= b` on stream positions only (the topological part is ignored, as Synapse does): every
 * writer's position in `a` is at or before its position in `b`.
 */
export function isBeforeOrEq(a: RoomStreamToken, b: RoomStreamToken): boolean {
  if (a.stream > b.stream) return false;
  const ids = new Set([...a.instances.keys(), ...b.instances.keys()]);
  for (const id of ids) {
    if ((a.instances.get(id) ?? a.stream) > (b.instances.get(id) ?? b.stream)) return false;
  }
  return true;
}

/**
 * Parses an optional `from`/`to` request parameter (empty = absent; `from=END` is the legacy
 * spelling of absent); throws Synapse's 400 "Query parameter '<name>' must be ascii" and "'<name>' parameter is invalid".
 */
export function parseTokenParam(value: string | null | undefined, name: 'from' | 'to'): StreamToken | null {
  if (value === null || value === undefined || value === '' || (name === 'from' && value === 'END')) return null;
  // Synapse reads string query parameters as ASCII.
  if (/[^\x00-\x7f]/.test(value)) throw badRequest(`Query parameter '${name}' must be ascii`);
  try {
    return parseStreamToken(value);
  } catch (err) {
    if (err instanceof InvalidTokenError) throw badRequest(`'${name}' parameter is invalid`);
    throw err;
  }
}

/**
 * RoomEventFilter (spec §5.4): parsing, the SQL pre-filter used by pagination, and the in-process
 * match Synapse re-applies to loaded events.
 *
 * Matching rule per field pair: an event matching any deny value is excluded; otherwise, when the
 * allow-list is present (even empty) the event must match one of its values. Type patterns honour
 * a trailing `*` only (that is all Synapse's in-process check honours, so the SQL here does the
 * same: a `*` elsewhere is a literal character). `related_by_*` lists are the exception: an empty
 * list means "no constraint", as in Synapse.
 *
 * Synapse does not validate this JSON at all in /messages and /context (current releases
 * neither): depending on the field, a wrong type is a 500 or silently misread (a string where a
 * list is expected is read as its characters). Here a field of the wrong type, as Synapse's own
 * ROOM_EVENT_FILTER_SCHEMA defines the field, is a 400 M_BAD_JSON. `event_format` is not a
 * RoomEventFilter field in that schema: as in Synapse, only the string "federation" means
 * anything, and any other value (of any type) is the client format. docs/synapse-differences.md
 * lists each case.
 */
import { badJson } from '../errors';

export const LABELS_FIELD = 'org.matrix.labels';
export const NOT_LABELS_FIELD = 'org.matrix.not_labels';
export const REL_TYPES_FIELD = 'org.matrix.msc3874.rel_types';
export const NOT_REL_TYPES_FIELD = 'org.matrix.msc3874.not_rel_types';

export interface RoomEventFilter {
  types: string[] | null;
  notTypes: string[];
  senders: string[] | null;
  notSenders: string[];
  rooms: string[] | null;
  notRooms: string[];
  /** true: only events whose content has a string `url`; false: only those without. */
  containsUrl: boolean | null;
  labels: string[] | null;
  notLabels: string[];
  relatedBySenders: string[];
  relatedByRelTypes: string[];
  /** The event's own relation type (MSC3874; only read when enabled). */
  relTypes: string[] | null;
  notRelTypes: string[];
  lazyLoadMembers: boolean;
  includeRedundantMembers: boolean;
  /** `event_format: "federation"` asks for PDU-format events. */
  federationFormat: boolean;
}

export interface FilterOptions {
  /** Honour `org.matrix.msc3874.rel_types` / `not_rel_types` (experimental, off by default in Synapse). */
  msc3874Enabled: boolean;
}

/** The fields of an event the in-process match reads. */
export interface FilterableEvent {
  type: string;
  sender: string;
  roomId: string;
  content: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function stringList(json: Json, key: string): string[] | null {
  const v = json[key];
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw badJson(`Filter field '${key}' must be a list of strings`);
  return v as string[];
}

function boolField(json: Json, key: string): boolean | null {
  const v = json[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'boolean') throw badJson(`Filter field '${key}' must be a boolean`);
  return v;
}

/** Parses a RoomEventFilter JSON object; throws 400 M_BAD_JSON for wrongly-typed fields. */
export function parseRoomEventFilter(json: Json, opts: FilterOptions): RoomEventFilter {
  return {
    types: stringList(json, 'types'),
    notTypes: stringList(json, 'not_types') ?? [],
    senders: stringList(json, 'senders'),
    notSenders: stringList(json, 'not_senders') ?? [],
    rooms: stringList(json, 'rooms'),
    notRooms: stringList(json, 'not_rooms') ?? [],
    containsUrl: boolField(json, 'contains_url'),
    labels: stringList(json, LABELS_FIELD),
    notLabels: stringList(json, NOT_LABELS_FIELD) ?? [],
    relatedBySenders: stringList(json, 'related_by_senders') ?? [],
    relatedByRelTypes: stringList(json, 'related_by_rel_types') ?? [],
    relTypes: opts.msc3874Enabled ? stringList(json, REL_TYPES_FIELD) : null,
    notRelTypes: opts.msc3874Enabled ? (stringList(json, NOT_REL_TYPES_FIELD) ?? []) : [],
    lazyLoadMembers: boolField(json, 'lazy_load_members') ?? false,
    includeRedundantMembers: boolField(json, 'include_redundant_members') ?? false,
    federationFormat: json.event_format === 'federation',
  };
}

/** Whether a type pattern (trailing `*` = prefix) matches an event type. */
export function typeMatches(type: string, pattern: string): boolean {
  return pattern.endsWith('*') ? type.startsWith(pattern.slice(0, -1)) : type === pattern;
}

/** The relation type of an event's `m.relates_to`, when it is a well-formed relation. */
export function relationTypeOf(content: Json): string | null {
  const rel = content['m.relates_to'];
  if (!rel || typeof rel !== 'object' || Array.isArray(rel)) return null;
  const r = rel as Json;
  return typeof r.rel_type === 'string' && typeof r.event_id === 'string' ? r.rel_type : null;
}

function allowed<T>(allow: T[] | null, deny: T[], matches: (v: T) => boolean): boolean {
  if (deny.some(matches)) return false;
  return allow === null || allow.some(matches);
}

/**
 * The in-process check of every field except the `related_by_*` ones (which need the relations
 * table and are checked in SQL).
 */
export function matchesFilter(f: RoomEventFilter, ev: FilterableEvent): boolean {
  const content = ev.content && typeof ev.content === 'object' ? ev.content : {};
  const rawLabels = content[LABELS_FIELD];
  const labels = Array.isArray(rawLabels) ? rawLabels : [];
  const relType = relationTypeOf(content);
  if (!allowed(f.rooms, f.notRooms, (v) => ev.roomId === v)) return false;
  if (!allowed(f.senders, f.notSenders, (v) => ev.sender === v)) return false;
  if (!allowed(f.types, f.notTypes, (v) => typeMatches(ev.type, v))) return false;
  if (!allowed(f.labels, f.notLabels, (v) => labels.includes(v))) return false;
  if (!allowed(f.relTypes, f.notRelTypes, (v) => relType === v)) return false;
  if (f.containsUrl !== null && f.containsUrl !== (typeof content.url === 'string')) return false;
  return true;
}

/** A SQL condition and its positional (`?`) parameters. */
export interface SqlFragment {
  sql: string;
  params: unknown[];
}

function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** `col` matches one of `patterns` (exact values and trailing-`*` prefixes). */
function typeCondition(col: string, patterns: string[], params: unknown[]): string {
  const exact = patterns.filter((p) => !p.endsWith('*'));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => likePrefix(p.slice(0, -1)));
  const ors: string[] = [];
  if (exact.length > 0) {
    ors.push(`${col} = ANY(ARRAY[?]::text[])`);
    params.push(exact);
  }
  if (prefixes.length > 0) {
    ors.push(`${col} LIKE ANY(ARRAY[?]::text[])`);
    params.push(prefixes);
  }
  return ors.length > 0 ? `(${ors.join(' OR ')})` : 'false';
}

function inList(col: string, values: string[], params: unknown[]): string {
  if (values.length === 0) return 'false';
  params.push(values);
  return `${col} = ANY(ARRAY[?]::text[])`;
}

/** Adds the allow/deny conditions of one field pair. */
function pair(out: string[], params: unknown[], allow: string[] | null, deny: string[], cond: (values: string[]) => string): void {
  if (deny.length > 0) out.push(`NOT (${cond(deny)})`);
  if (allow !== null) out.push(cond(allow));
}

/**
 * The filter as SQL over an `events` row aliased `e` (with `event_relations` for relation
 * filters). Returns an empty fragment for "no constraint".
 */
export function filterToSql(f: RoomEventFilter | null, e = 'e'): SqlFragment {
  const out: string[] = [];
  const params: unknown[] = [];
  if (!f) return { sql: '', params };
  pair(out, params, f.types, f.notTypes, (v) => typeCondition(`${e}.type`, v, params));
  pair(out, params, f.senders, f.notSenders, (v) => inList(`${e}.sender`, v, params));
  pair(out, params, f.rooms, f.notRooms, (v) => inList(`${e}.room_id`, v, params));
  pair(out, params, f.labels, f.notLabels, (v) => {
    if (v.length === 0) return 'false';
    params.push(v);
    return `coalesce(${e}.labels, '{}') && ARRAY[?]::text[]`;
  });
  if (f.containsUrl !== null) out.push(f.containsUrl ? `${e}.contains_url` : `NOT ${e}.contains_url`);
  if (f.relatedBySenders.length > 0 || f.relatedByRelTypes.length > 0) {
    const conds = [`r.relates_to_id = ${e}.event_id`];
    if (f.relatedBySenders.length > 0) conds.push(inList('r.sender', f.relatedBySenders, params));
    if (f.relatedByRelTypes.length > 0) conds.push(inList('r.relation_type', f.relatedByRelTypes, params));
    out.push(`EXISTS (SELECT 1 FROM event_relations r WHERE ${conds.join(' AND ')})`);
  }
  pair(out, params, f.relTypes, f.notRelTypes, (v) => {
    if (v.length === 0) return 'false';
    params.push(v);
    return `EXISTS (SELECT 1 FROM event_relations o WHERE o.event_id = ${e}.event_id AND o.relation_type = ANY(ARRAY[?]::text[]))`;
  });
  return { sql: out.join(' AND '), params };
}

/** True when the filter needs no in-process re-check beyond the SQL (the common case). */
export function isNoop(f: RoomEventFilter | null): boolean {
  return (
    !f ||
    (f.types === null &&
      f.notTypes.length === 0 &&
      f.senders === null &&
      f.notSenders.length === 0 &&
      f.rooms === null &&
      f.notRooms.length === 0 &&
      f.containsUrl === null &&
      f.labels === null &&
      f.notLabels.length === 0 &&
      f.relatedBySenders.length === 0 &&
      f.relatedByRelTypes.length === 0 &&
      f.relTypes === null &&
      f.notRelTypes.length === 0)
  );
}

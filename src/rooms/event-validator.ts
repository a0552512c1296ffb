/**
 * Shape checks for locally created events (Synapse's EventValidator.validate_builder and
 * validate_new), including the `m.room.retention` rules of spec §8.2. Pure functions; they run
 * before any database work.
 */
import { Codes, MatrixError, badJson, badRequest, echo } from '../errors';
import { MEMBERSHIPS, type Json } from './room.types';
import { pyRepr } from './event-auth';

/** Canonical JSON's integer range. */
const CANONICALJSON_MAX_INT = 2 ** 53 - 1;
const CANONICALJSON_MIN_INT = -CANONICALJSON_MAX_INT;
/** Longest alias accepted in `m.room.aliases` and the directory. */
export const MAX_ALIAS_LENGTH = 255;
/** Synapse's limit on a whole PDU (bytes of canonical JSON). */
export const MAX_PDU_SIZE_BYTES = 65_536;
const MAX_KEY_BYTES = 255;

export interface DraftShape {
  roomId: string;
  type: string;
  stateKey: string | null;
  sender: string;
  content: Json;
}

function ensureStrings(content: Json, keys: string[]): void {
  for (const k of keys) {
    if (!(k in content)) throw badRequest(`'${k}' not in content`);
    if (typeof content[k] !== 'string') throw badRequest(`'${k}' not a string type`);
  }
}

function ensureState(d: DraftShape): void {
  if (d.stateKey === null) throw badRequest(`'${echo(d.type)}' must be state events`);
}

/** validate_builder: the checks every locally created event passes. */
export function validateBuilder(d: DraftShape): void {
  for (const [k, v] of [
    ['room_id', d.roomId],
    ['sender', d.sender],
    ['type', d.type],
  ] as const) {
    if (typeof v !== 'string') throw badRequest(`Not '${k}' a string type`);
  }
  switch (d.type) {
    case 'm.room.message':
      return ensureStrings(d.content, ['body', 'msgtype']);
    case 'm.room.topic':
      ensureStrings(d.content, ['topic']);
      return ensureState(d);
    case 'm.room.name':
      ensureStrings(d.content, ['name']);
      return ensureState(d);
    case 'm.room.member':
      if (!('membership' in d.content)) throw badRequest('Content has not membership key');
      if (!(MEMBERSHIPS as readonly unknown[]).includes(d.content.membership)) throw badRequest('Invalid membership key');
      return ensureState(d);
    case 'm.room.tombstone':
      if (!('replacement_room' in d.content)) throw badRequest('Content has no replacement_room key');
      if (d.content.replacement_room === d.roomId) throw badRequest('Tombstone cannot reference the room it was sent in');
      return ensureState(d);
  }
}

/** Spec §8.2: the content of `m.room.retention`. */
export function validateRetention(d: DraftShape): void {
  if (d.stateKey === null) throw badRequest('must be a state event');
  const min = d.content.min_lifetime;
  const max = d.content.max_lifetime;
  if (min !== undefined && min !== null && !Number.isInteger(min)) throw badJson("'min_lifetime' must be an integer");
  if (max !== undefined && max !== null && !Number.isInteger(max)) throw badJson("'max_lifetime' must be an integer");
  if (typeof min === 'number' && typeof max === 'number' && min > max) throw badJson("'min_lifetime' can't be greater than 'max_lifetime");
}

const PL_INT_KEYS = ['ban', 'events_default', 'invite', 'kick', 'redact', 'state_default', 'users_default'];
const PL_MAP_KEYS = ['events', 'notifications', 'users'];

const isCanonicalInt = (v: unknown) =>
  Number.isInteger(v) && (v as number) >= CANONICALJSON_MIN_INT && (v as number) <= CANONICALJSON_MAX_INT;

function intError(path: string | null, v: unknown): MatrixError {
  const what = Number.isInteger(v)
    ? `${String(v)} is ${(v as number) < 0 ? 'less than the minimum of' : 'greater than the maximum of'} ${(v as number) < 0 ? CANONICALJSON_MIN_INT : CANONICALJSON_MAX_INT}`
    : `${pyRepr(v)} is not of type 'integer'`;
  return new MatrixError(400, path === null ? what : `"${echo(path)}": ${what}`, Codes.BAD_JSON);
}

/** The power levels JSON schema Synapse validates local events against. */
export function validatePowerLevels(content: Json): void {
  for (const k of PL_INT_KEYS) {
    if (k in content && !isCanonicalInt(content[k])) throw intError(k, content[k]);
  }
  for (const k of PL_MAP_KEYS) {
    if (!(k in content)) continue;
    const v = content[k];
    if (!v || typeof v !== 'object' || Array.isArray(v))
      throw new MatrixError(400, `"${k}": ${echo(JSON.stringify(v))} is not of type 'object'`, Codes.BAD_JSON);
    for (const [sub, level] of Object.entries(v as Json)) if (!isCanonicalInt(level)) throw intError(sub, level);
  }
}

/** Rejects values canonical JSON cannot carry (floats, out-of-range integers) in strict room versions. */
export function validateCanonicalJson(value: unknown): void {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new MatrixError(400, 'Bad JSON value: float', Codes.BAD_JSON);
    if (value > CANONICALJSON_MAX_INT || value < CANONICALJSON_MIN_INT)
      throw new MatrixError(400, 'JSON integer out of range', Codes.BAD_JSON);
  } else if (Array.isArray(value)) value.forEach(validateCanonicalJson);
  else if (value && typeof value === 'object') Object.values(value).forEach(validateCanonicalJson);
}

/** Synapse's size limits on a PDU and its keys (`M_TOO_LARGE`). */
export function validateSize(d: DraftShape): void {
  const tooLarge = (what: string) => new MatrixError(413, what, Codes.TOO_LARGE);
  if (Buffer.byteLength(d.sender) > MAX_KEY_BYTES) throw tooLarge("'user_id' too large");
  if (Buffer.byteLength(d.roomId) > MAX_KEY_BYTES) throw tooLarge("'room_id' too large");
  if (d.stateKey !== null && Buffer.byteLength(d.stateKey) > MAX_KEY_BYTES) throw tooLarge("'state_key' too large");
  if (Buffer.byteLength(d.type) > MAX_KEY_BYTES) throw tooLarge("'type' too large");
  // The envelope (ids, hashes, prev/auth events) adds well under 1 KiB to the content.
  if (Buffer.byteLength(JSON.stringify(d.content)) + 1024 > MAX_PDU_SIZE_BYTES) throw tooLarge('event too large');
}

/** validate_new: everything a locally created event must satisfy before auth. */
export function validateNewEvent(d: DraftShape, strictCanonicalJson: boolean): void {
  validateBuilder(d);
  validateSize(d);
  if (strictCanonicalJson) validateCanonicalJson(d.content);
  if (d.type === 'm.room.aliases' && Array.isArray(d.content.aliases)) {
    for (const a of d.content.aliases) {
      if (typeof a === 'string' && a.length > MAX_ALIAS_LENGTH)
        throw new MatrixError(400, `Can't create aliases longer than ${MAX_ALIAS_LENGTH} characters`, Codes.INVALID_PARAM);
    }
  } else if (d.type === 'm.room.retention') validateRetention(d);
  else if (d.type === 'm.room.power_levels') validatePowerLevels(d.content);
}

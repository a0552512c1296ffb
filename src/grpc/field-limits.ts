/**
 * Size limits on every string a request carries, checked by the call adapter before any work.
 *
 * The limits are read from the proto descriptors: each method's request message is compiled once
 * into a checker that visits its string fields (repeated, maps, nested messages and oneofs
 * included), and a field's limit follows from its name, so a new RPC is covered without new code:
 *
 * - Matrix ids and keys (`*_id`, `*_ids`, aliases, `state_key`, `type`, `sender`, event id lists,
 *   server names...): `MAX_ID_BYTES`, as the Matrix spec says. An id that long can also never
 *   overflow a btree index entry (about 2.7 KB).
 * - JSON text (`*_json`) and `google.protobuf.Struct` contents: the request body limit.
 * - Query parameters passed on as given (`*_param`, and the `/messages` tokens), which the service
 *   checks itself with Synapse's errors: `MAX_TEXT_BYTES`.
 * - Free text that ends up inside an event or a profile (`name`, `topic`, `reason`, `avatar_url`...):
 *   `MAX_TEXT_BYTES`, a whole PDU's size.
 * - Everything else (tokens, enum-like words such as `preset` or a login `type`): `MAX_SHORT_BYTES`.
 *
 * Where Synapse answers an over-long value with its own status and message, the field's limit
 * says so (`SYNAPSE_LIMITS`); elsewhere the answer is 400 `M_INVALID_PARAM`.
 */
import { readFileSync } from 'node:fs';
import { ScalarType, createFileRegistry, fromBinary, type DescField, type DescMessage, type Registry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Codes, MatrixError, badRequest, invalidParam } from '../errors';
import { DESCRIPTOR_PATH } from './server';

export const MAX_ID_BYTES = 255;
export const MAX_SHORT_BYTES = 512;
export const MAX_TEXT_BYTES = 65_536;

interface Limit {
  max: number;
  /** 'chars' counts UTF-16 code units, as Synapse's `len()` checks do for these fields. */
  unit: 'bytes' | 'chars';
  error: (field: string, max: number) => MatrixError;
}

const tooLong = (field: string, max: number) => invalidParam(`'${field}' is too long (at most ${max} bytes)`);
const eventKeyTooLarge = (field: string) => new MatrixError(413, `'${field}' too large`, Codes.TOO_LARGE);
const aliasTooLong = () => invalidParam(`Can't create aliases longer than ${MAX_ID_BYTES} characters`);

const ID_NAMES =
  /(^|_)ids?$|^(state_key|type|sender|redacts|origin|invite|aliases|auth_events|prev_events|server_names|room_alias|room_alias_name|room_id_or_alias|user)$/;
const TEXT_NAMES =
  /^(name|topic|reason|message|room_name|displayname|avatar_url|initial_device_display_name|display_name|search_term|password|new_password)$/;
const JSON_NAMES = /_json$/;

/** Fields Synapse bounds itself, with its own answer. Keys are `Message.field` or `field`. */
const SYNAPSE_LIMITS: Record<string, Limit> = {
  // EventSizeError: 413 M_TOO_LARGE for an event's state_key and (below) type.
  state_key: { max: MAX_ID_BYTES, unit: 'bytes', error: eventKeyTooLarge },
  // POST /login: "device_id cannot be longer than 512 characters."
  device_id: { max: 512, unit: 'chars', error: () => invalidParam('device_id cannot be longer than 512 characters.') },
  // Shared-secret registration: "Invalid username" past 512 characters.
  username: { max: 512, unit: 'chars', error: () => badRequest('Invalid username') },
  // Creating a user (PUT /_synapse/admin/v2/users/<user_id>): Synapse's check_username.
  'UpsertUserRequest.user_id': {
    max: MAX_ID_BYTES,
    unit: 'bytes',
    error: () => badRequest('User ID may not be longer than 255 characters', Codes.INVALID_USERNAME),
  },
  room_alias_name: { max: MAX_ID_BYTES, unit: 'bytes', error: aliasTooLong },
  // The new value of a profile field (display name or avatar URL): the service answers Synapse's per-field errors.
  'SetProfileFieldRequest.value': { max: MAX_TEXT_BYTES, unit: 'bytes', error: tooLong },
  'SetRoomAliasRequest.room_alias': { max: MAX_ID_BYTES, unit: 'bytes', error: aliasTooLong },
  // /messages tokens: the service answers "'from' parameter is invalid" to whatever it cannot parse.
  'MessagesQuery.from': { max: MAX_TEXT_BYTES, unit: 'bytes', error: tooLong },
  'MessagesQuery.to': { max: MAX_TEXT_BYTES, unit: 'bytes', error: tooLong },
  // An id at an external auth provider is not a Matrix id (an LDAP DN or a SAML NameID may be long).
  'ExternalId.external_id': { max: MAX_SHORT_BYTES, unit: 'bytes', error: tooLong },
  'GetUserByExternalIdRequest.external_id': { max: MAX_SHORT_BYTES, unit: 'bytes', error: tooLong },
};

/**
 * Query parameters passed on as given (`*_param`): the service answers Synapse's error to a bad
 * value, so they get the bound of free text (over REST, the URL's own limit is lower still).
 */
const PARAM_NAMES = /_param$/;

function limitOf(message: DescMessage, field: DescField, jsonBytes: number): Limit {
  const own = SYNAPSE_LIMITS[`${message.name}.${field.name}`] ?? SYNAPSE_LIMITS[field.name];
  if (own) return own;
  // An event's type: the message also names the event's state_key.
  if (field.name === 'type' && message.fields.some((f) => f.name === 'state_key'))
    return { max: MAX_ID_BYTES, unit: 'bytes', error: eventKeyTooLarge };
  if (JSON_NAMES.test(field.name)) return { max: jsonBytes, unit: 'bytes', error: tooLong };
  if (PARAM_NAMES.test(field.name)) return { max: MAX_TEXT_BYTES, unit: 'bytes', error: tooLong };
  if (ID_NAMES.test(field.name)) return { max: MAX_ID_BYTES, unit: 'bytes', error: tooLong };
  if (TEXT_NAMES.test(field.name)) return { max: MAX_TEXT_BYTES, unit: 'bytes', error: tooLong };
  return { max: MAX_SHORT_BYTES, unit: 'bytes', error: tooLong };
}

function exceeds(s: string, limit: Limit): boolean {
  if (limit.unit === 'chars') return s.length > limit.max;
  // A UTF-16 code unit takes one to three UTF-8 bytes: most strings are decided without counting.
  if (s.length > limit.max) return true;
  if (s.length * 3 <= limit.max) return false;
  return Buffer.byteLength(s) > limit.max;
}

type Checker = (obj: Record<string, unknown>) => void;

/** Every string and key of decoded `google.protobuf.Struct` / `Value` / `ListValue` content. */
function checkFreeJson(v: unknown, field: string, limit: Limit): void {
  if (typeof v === 'string') {
    if (exceeds(v, limit)) throw limit.error(field, limit.max);
  } else if (Array.isArray(v)) {
    for (const x of v) checkFreeJson(x, field, limit);
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (exceeds(k, limit)) throw limit.error(field, limit.max);
      checkFreeJson(x, field, limit);
    }
  }
}

export class FieldLimits {
  private readonly registry: Registry;
  private readonly byMessage = new Map<string, Checker>();
  private readonly byPath = new Map<string, Checker | null>();

  /** `maxJsonBytes`: the bound on JSON text fields, the request body limit. */
  constructor(
    private readonly maxJsonBytes: number,
    descriptorSet: Uint8Array = readFileSync(DESCRIPTOR_PATH),
  ) {
    this.registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
  }

  /**
   * Throws the field's error (400 `M_INVALID_PARAM` unless Synapse answers otherwise) when a
   * string of the request to method `path` (`/package.Service/Method`) is over its limit.
   */
  check(path: string, request: unknown): void {
    if (request === null || typeof request !== 'object') return;
    let checker = this.byPath.get(path);
    if (checker === undefined) {
      checker = this.compileMethod(path);
      this.byPath.set(path, checker);
    }
    checker?.(request as Record<string, unknown>);
  }

  private compileMethod(path: string): Checker | null {
    const [, service, method] = path.split('/');
    const input = this.registry.getService(service ?? '')?.methods.find((m) => m.name === method)?.input;
    return input ? this.compile(input) : null;
  }

  private compile(message: DescMessage): Checker {
    const cached = this.byMessage.get(message.typeName);
    if (cached) return cached;
    const checks: Checker[] = [];
    // Registered before its fields are compiled, so a recursive message refers to itself.
    const checker: Checker = (obj) => {
      for (const c of checks) c(obj);
    };
    this.byMessage.set(message.typeName, checker);
    for (const field of message.fields) {
      const check = this.compileField(message, field);
      if (!check) continue;
      const key = field.localName;
      const oneof = field.oneof;
      if (oneof) {
        checks.push((obj) => {
          const u = obj[oneof.localName] as { $case?: string; value?: unknown } | undefined;
          if (u?.$case === key) check(u.value);
        });
      } else {
        checks.push((obj) => {
          const v = obj[key];
          if (v !== undefined && v !== null) check(v);
        });
      }
    }
    return checker;
  }

  /** A check of one field's value, or null when the field can hold no string. */
  private compileField(message: DescMessage, field: DescField): ((v: unknown) => void) | null {
    const stringCheck = (limit: Limit) => (s: unknown) => {
      if (typeof s === 'string' && exceeds(s, limit)) throw limit.error(field.name, limit.max);
    };
    const messageCheck = (desc: DescMessage) => {
      if (desc.typeName.startsWith('google.protobuf.') && /^(Struct|Value|ListValue)$/.test(desc.name)) {
        const limit: Limit = { max: this.maxJsonBytes, unit: 'bytes', error: tooLong };
        return (v: unknown) => checkFreeJson(v, field.name, limit);
      }
      const inner = this.compile(desc);
      return (v: unknown) => {
        if (v !== null && typeof v === 'object') inner(v as Record<string, unknown>);
      };
    };
    switch (field.fieldKind) {
      case 'scalar':
        return field.scalar === ScalarType.STRING ? stringCheck(limitOf(message, field, this.maxJsonBytes)) : null;
      case 'message':
        return messageCheck(field.message);
      case 'list': {
        const each =
          field.listKind === 'scalar' && field.scalar === ScalarType.STRING
            ? stringCheck(limitOf(message, field, this.maxJsonBytes))
            : field.listKind === 'message'
              ? messageCheck(field.message)
              : null;
        return each && ((v) => Array.isArray(v) && v.forEach(each));
      }
      case 'map': {
        const limit = limitOf(message, field, this.maxJsonBytes);
        const keyCheck = field.mapKey === ScalarType.STRING ? stringCheck(limit) : null;
        const valueCheck =
          field.mapKind === 'scalar' && field.scalar === ScalarType.STRING
            ? stringCheck(limit)
            : field.mapKind === 'message'
              ? messageCheck(field.message)
              : null;
        if (!keyCheck && !valueCheck) return null;
        return (v) => {
          if (v === null || typeof v !== 'object') return;
          for (const [k, x] of Object.entries(v)) {
            keyCheck?.(k);
            valueCheck?.(x);
          }
        };
      }
      default:
        return null;
    }
  }
}

/**
 * Generators of hostile input for the fuzz test: path segments, query strings, JSON bodies and
 * protobuf messages built from the contract's descriptors. Each takes fast-check's `gen` so one
 * seed replays the same requests.
 */
import fc from 'fast-check';
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

export type Gen = fc.GeneratorValue;

/**
 * Longest generated string: past the 64 KB an echoed error could once carry and the ~2.7 KB a
 * btree index entry holds, both bounded at the gRPC adapter now. Random text stays shorter
 * (RANDOM_STRING_CHARS), as generating it costs far more than repeating one character.
 */
export const MAX_STRING_CHARS = 100_000;
const RANDOM_STRING_CHARS = 1_000;

const pick = <T>(g: Gen, items: readonly T[]): T => items[g(fc.nat, { max: items.length - 1 })];

/** Strings a client may send where an id or a short text is expected. */
export function oddString(g: Gen, pool: readonly string[] = []): string {
  switch (g(fc.nat, { max: pool.length > 0 ? 9 : 8 })) {
    case 0:
      return '';
    case 1:
      return 'x'.repeat(g(fc.integer, { min: 256, max: MAX_STRING_CHARS }));
    case 2:
      return g(fc.string, { unit: 'binary', maxLength: 40 });
    case 3:
      return g(fc.string, { unit: 'grapheme', maxLength: 40 });
    case 4:
      return pick(g, ['\u0000', 'a\u0000b', '\ud800', 'a\udc00b', '..', '../..', '/', ' ', '\n', '%', '%ZZ', '😀', '\u202e']);
    case 5:
      return `${pick(g, ['!', '@', '#', '$', '+'])}${g(fc.string, { maxLength: 20 })}:${pick(g, ['test', 'other', '', 'test:8448', '[::1]'])}`;
    case 6:
      return String(pick(g, [0, -1, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), '1e999', 'NaN', 'true', 'null']));
    case 7:
      return g(fc.string, { maxLength: 20 });
    case 8:
      return g(fc.string, { unit: 'binary', minLength: 100, maxLength: RANDOM_STRING_CHARS });
    default:
      return pick(g, pool);
  }
}

/** One path segment, as sent on the wire: percent-encoded, or deliberately malformed. */
export function pathSegment(g: Gen, pool: readonly string[]): string {
  if (g(fc.nat, { max: 5 }) === 0) return pick(g, ['%ZZ', '%', '%E0%A4%A', '%ED%A0%80', '%C0%80', '%FF', '%00', '%2F', '%25', '']);
  // A URL carries UTF-8: a lone surrogate cannot be encoded (the raw '%ED%A0%80' above stands for it).
  return encodeURIComponent(
    oddString(g, pool).replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'),
  );
}

/** Raw JSON texts placed where a value goes (placeholders are swapped for them after stringify). */
const RAW_VALUES = [
  '1e999999',
  '-1e999999',
  '1e-999999',
  '9'.repeat(400),
  '0.' + '1'.repeat(1_200),
  '9007199254740993',
  '-9007199254740993',
  '1.5',
  '-0',
  '1E+2',
  '"\\ud800"',
  '"\\udc00x"',
  '"a\\u0000b"',
  '"\\ud83d\\ude00"',
  '"\\\\u0000"',
];

const deep = (levels: number, open: string, close: string) => open.repeat(levels) + '1' + close.repeat(levels);

/** A raw JSON text for a value: nested past every limit, or one of RAW_VALUES. */
function rawValue(g: Gen): string {
  switch (g(fc.nat, { max: 3 })) {
    case 0:
      return deep(pick(g, [511, 513, 20_000]), '[', ']');
    case 1:
      return deep(pick(g, [511, 513, 20_000]), '{"a":', '}');
    default:
      return pick(g, RAW_VALUES);
  }
}

/** A JSON value of any type, with raw leaves (numbers, escapes, nesting JSON.stringify never writes). */
function jsonValue(g: Gen, pool: readonly string[], raws: string[], depth: number): unknown {
  switch (g(fc.nat, { max: depth > 2 ? 5 : 7 })) {
    case 0:
      return oddString(g, pool);
    case 1:
      return g(() => fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)));
    case 2:
    case 3:
      raws.push(rawValue(g));
      return `\u0001RAW${raws.length - 1}\u0001`;
    case 4:
      return pick(g, pool.length > 0 ? pool : ['x']);
    case 5:
      return {};
    case 6:
      return Array.from({ length: g(fc.nat, { max: 3 }) }, () => jsonValue(g, pool, raws, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: g(fc.nat, { max: 3 }) }, () => [oddString(g), jsonValue(g, pool, raws, depth + 1)]));
  }
}

/** An object keyed by `keys` (the fields the route might read) and random keys. */
function jsonObjectText(g: Gen, keys: readonly string[], pool: readonly string[]): string {
  const raws: string[] = [];
  const obj: Record<string, unknown> = {};
  for (let i = g(fc.nat, { max: 4 }); i > 0; i--)
    obj[g(fc.nat, { max: 3 }) === 0 ? oddString(g) : pick(g, keys)] = jsonValue(g, pool, raws, 0);
  return JSON.stringify(obj).replace(/"\\u0001RAW(\d+)\\u0001"/g, (_, i: string) => raws[Number(i)]);
}

/** A request body: not JSON, JSON of the wrong shape, or an object with hostile values. */
export function body(g: Gen, keys: readonly string[], pool: readonly string[]): string {
  switch (g(fc.nat, { max: 7 })) {
    case 0:
      return pick(g, ['', 'not json', '{', '[]', 'null', '"x"', '1', '{"a":1,}', '\u0000', '{"a":NaN}', '{"a":Infinity}', '\ufeff{}']);
    case 1:
      return deep(pick(g, [513, 20_000]), '{"a":', '}');
    case 2:
      return g(fc.string, { unit: 'binary', maxLength: 200 });
    default:
      return jsonObjectText(g, keys, pool);
  }
}

/** A query string over `keys` with hostile values (a leading `?` included when not empty). */
export function queryString(g: Gen, keys: readonly string[], pool: readonly string[]): string {
  const parts: string[] = [];
  for (let i = g(fc.nat, { max: 4 }); i > 0; i--) {
    const key = g(fc.nat, { max: 4 }) === 0 ? pathSegment(g, []) : pick(g, keys);
    const json = g(fc.nat, { max: 3 }) === 0 ? encodeURIComponent(jsonObjectText(g, keys, pool)) : '';
    // Past node's 16 KB header limit nothing reaches a route (hostile-input.test.ts checks that 431).
    const value = json && json.length < 8_000 ? json : pathSegment(g, pool);
    parts.push(`${key}=${value}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

const INT32 = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)];
const INT64 = ['0', '-1', '9223372036854775807', '-9223372036854775808', '9007199254740993'];

/** Writes one value of `field` (its type, or sometimes another wire type). */
function writeScalar(
  g: Gen,
  w: BinaryWriter,
  no: number,
  scalar: ScalarType,
  jsonField: boolean,
  keys: readonly string[],
  pool: readonly string[],
): void {
  const int32 = () => (g(fc.boolean) ? pick(g, INT32) : g(fc.integer));
  const int64 = () => (g(fc.boolean) ? pick(g, INT64) : String(g(fc.bigInt, { min: -(2n ** 63n), max: 2n ** 63n - 1n })));
  switch (scalar) {
    case ScalarType.STRING:
      w.tag(no, WireType.LengthDelimited).string(jsonField && g(fc.nat, { max: 3 }) > 0 ? body(g, keys, pool) : oddString(g, pool));
      return;
    case ScalarType.BYTES:
      w.tag(no, WireType.LengthDelimited).bytes(g(fc.uint8Array, { maxLength: 64 }));
      return;
    case ScalarType.BOOL:
      w.tag(no, WireType.Varint).uint32(g(fc.nat, { max: 3 }));
      return;
    case ScalarType.DOUBLE:
      w.tag(no, WireType.Bit64).double(g(fc.double));
      return;
    case ScalarType.FLOAT:
      w.tag(no, WireType.Bit32).float(g(fc.float));
      return;
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      w.tag(no, WireType.Bit32).sfixed32(int32());
      return;
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      w.tag(no, WireType.Bit64).sfixed64(int64());
      return;
    case ScalarType.SINT32:
      w.tag(no, WireType.Varint).sint32(int32());
      return;
    case ScalarType.SINT64:
      w.tag(no, WireType.Varint).sint64(int64());
      return;
    case ScalarType.UINT32:
      w.tag(no, WireType.Varint).uint32(int32() >>> 0);
      return;
    case ScalarType.INT32:
      w.tag(no, WireType.Varint).int32(int32());
      return;
    default:
      w.tag(no, WireType.Varint).int64(int64());
  }
}

/** Writes a field that is present (several times for lists and maps, sometimes for singulars too). */
function writeField(g: Gen, w: BinaryWriter, f: DescField, keys: readonly string[], pool: readonly string[], depth: number): void {
  const json = f.name.endsWith('_json');
  const one = (kind: 'scalar' | 'enum' | 'message', scalar: ScalarType | undefined, message: DescMessage | undefined) => {
    if (g(fc.nat, { max: 15 }) === 0) {
      // The wrong wire type for the field.
      w.tag(f.number, pick(g, [WireType.Varint, WireType.LengthDelimited, WireType.Bit32, WireType.Bit64]));
      w.raw(g(fc.uint8Array, { minLength: 8, maxLength: 8 }));
    } else if (kind === 'message' && message) {
      w.tag(f.number, WireType.LengthDelimited).fork();
      writeMessage(g, w, message, keys, pool, depth + 1);
      w.join();
    } else if (kind === 'enum') w.tag(f.number, WireType.Varint).int32(g(fc.integer, { min: -2, max: 40 }));
    else writeScalar(g, w, f.number, scalar ?? ScalarType.STRING, json, keys, pool);
  };
  if (f.fieldKind === 'list') {
    for (let i = g(fc.nat, { max: 3 }); i > 0; i--) one(f.listKind, f.scalar, f.message);
  } else if (f.fieldKind === 'map') {
    for (let i = g(fc.nat, { max: 2 }); i > 0; i--) {
      w.tag(f.number, WireType.LengthDelimited).fork();
      writeScalar(g, w, 1, f.mapKey, false, keys, pool);
      if (f.mapKind === 'message') {
        w.tag(2, WireType.LengthDelimited).fork();
        writeMessage(g, w, f.message, keys, pool, depth + 1);
        w.join();
      } else if (f.mapKind === 'enum') w.tag(2, WireType.Varint).int32(g(fc.integer, { min: -2, max: 40 }));
      else writeScalar(g, w, 2, f.scalar, false, keys, pool);
      w.join();
    }
  } else if (f.fieldKind === 'message') one('message', undefined, f.message);
  else if (f.fieldKind === 'enum') one('enum', undefined, undefined);
  else one('scalar', f.scalar, undefined);
}

/** The fields of `desc`, each present or not, with values of their type (mostly). */
export function writeMessage(
  g: Gen,
  w: BinaryWriter,
  desc: DescMessage,
  keys: readonly string[],
  pool: readonly string[],
  depth = 0,
): void {
  for (const f of desc.fields) {
    if (depth > 3 || g(fc.nat, { max: 2 }) === 0) continue;
    writeField(g, w, f, keys, pool, depth);
  }
}

/** A request for `desc`: a generated message, or bytes that are not one. */
export function requestBytes(g: Gen, desc: DescMessage, keys: readonly string[], pool: readonly string[]): Uint8Array {
  switch (g(fc.nat, { max: 9 })) {
    case 0:
      return g(fc.uint8Array, { maxLength: 64 });
    case 1: {
      const bytes = requestBytes(g, desc, keys, pool);
      return bytes.subarray(0, g(fc.nat, { max: Math.max(0, bytes.length - 1) }));
    }
    default: {
      const w = new BinaryWriter();
      writeMessage(g, w, desc, keys, pool);
      return w.finish();
    }
  }
}

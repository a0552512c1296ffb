/**
 * Limits on JSON text that is parsed to be stored or walked: nesting depth, lone surrogates and
 * numbers PostgreSQL or canonical JSON cannot hold. Every JSON body, `*_json` field and JSON query
 * parameter passes here (through `parseJsonObjectText` and `Query.json`), so a bad value is refused
 * with a 400 before any work instead of failing deep inside it (a stack overflow walking the
 * value, or PostgreSQL's jsonb parser at the write).
 *
 * Things to keep in mind:
 * - The scan runs on text JSON.parse has already accepted, so it only has to tell strings, numbers
 *   and brackets apart; it never validates syntax.
 * - A lone surrogate can only appear as a `\uXXXX` escape in JSON that came in as UTF-8 (invalid
 *   bytes decode to U+FFFD), but in-process callers may hand over JS strings holding one raw, so
 *   both forms are checked.
 */
import { Codes, MatrixError, badJson } from './errors';

/**
 * Deepest nesting of objects and arrays accepted. Synapse's decoder (Python's json module) gives
 * up somewhere under 1,000 levels, depending on how deep the call stack already is, and answers
 * 400 M_NOT_JSON; this bound stays well below that, so whatever is accepted here Synapse accepts too.
 */
export const MAX_JSON_DEPTH = 512;

/**
 * Longest number literal accepted, in characters, and largest exponent magnitude. A finite double
 * never needs more than a few hundred of either; past them, PostgreSQL's numeric (at most 16,383
 * digits after the point) could refuse the literal at the write.
 */
export const MAX_JSON_NUMBER_CHARS = 1_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const U = 0x75;

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

const loneSurrogate = () => badJson('JSON strings may not contain lone surrogates (U+D800 to U+DFFF)');

/**
 * Checks JSON text that JSON.parse accepted. Throws 400 `notJson` (M_NOT_JSON) when nested deeper
 * than MAX_JSON_DEPTH, as Synapse's decoder fails then; 400 M_BAD_JSON for a string or key holding
 * a lone surrogate, or a number out of range (it overflows a double, or its literal or exponent
 * passes MAX_JSON_NUMBER_CHARS).
 */
export function checkJsonText(text: string, notJson: string): void {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = endOfString(text, i + 1);
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) throw new MatrixError(400, notJson, Codes.NOT_JSON);
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) i = endOfNumber(text, i) - 1;
  }
}

/** The index of the quote closing the string that starts at `i`; throws on a lone surrogate. */
function endOfString(text: string, i: number): number {
  for (; ; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    let unit = c;
    if (c === BACKSLASH) {
      i++;
      if (text.charCodeAt(i) !== U) continue;
      unit = parseInt(text.slice(i + 1, i + 5), 16);
      i += 4;
    }
    if (isLow(unit)) throw loneSurrogate();
    if (!isHigh(unit)) continue;
    // The low half may follow escaped or raw, whichever form the high half had.
    if (isLow(text.charCodeAt(i + 1))) i++;
    else if (text.charCodeAt(i + 1) === BACKSLASH && text.charCodeAt(i + 2) === U && isLow(parseInt(text.slice(i + 3, i + 7), 16))) i += 6;
    else throw loneSurrogate();
  }
}

const isNumberChar = (c: number) => (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;

/** The index after the number literal starting at `start`; throws when it is out of range. */
function endOfNumber(text: string, start: number): number {
  let end = start + 1;
  let e = -1;
  for (; end < text.length; end++) {
    const c = text.charCodeAt(end);
    if (!isNumberChar(c)) break;
    if (c === 0x65 || c === 0x45) e = end;
  }
  const len = end - start;
  // Up to 15 plain digits always fit a double exactly: the common case skips the conversion.
  if (len <= 15 && e < 0) return end;
  if (len > MAX_JSON_NUMBER_CHARS) throw outOfRange(text, start, end);
  // A large exponent overflows numeric even on zero (0e-999999), and a double unless on zero.
  if (e >= 0 && Math.abs(Number(text.slice(e + 1, end))) > MAX_JSON_NUMBER_CHARS) throw outOfRange(text, start, end);
  if (!Number.isFinite(Number(text.slice(start, end)))) throw outOfRange(text, start, end);
  return end;
}

/** Synapse's canonical-JSON wording for an integer literal; a float has no Synapse equivalent. */
function outOfRange(text: string, start: number, end: number): MatrixError {
  const integer = !/[.eE]/.test(text.slice(start, Math.min(end, start + MAX_JSON_NUMBER_CHARS + 1)));
  return badJson(integer ? 'JSON integer out of range' : 'JSON number out of range');
}

/**
 * Parses JSON text that must be an object: 400 M_NOT_JSON (`notJson`) when it is not JSON or nests
 * too deep, 400 M_BAD_JSON (`notObject`) when it is JSON but not an object, and 400 M_BAD_JSON when
 * a string or key holds U+0000 or a lone surrogate, or a number is out of range (checkJsonText).
 */
export function parseJsonObjectText(text: string, notJson: string, notObject: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MatrixError(400, notJson, Codes.NOT_JSON);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badJson(notObject);
  checkJsonText(text, notJson);
  // PostgreSQL cannot store U+0000 in text or jsonb; refuse it here rather than fail at the write.
  // In valid JSON text the character can only appear escaped, so most bodies skip the walk.
  if (text.includes('\\u0000') && hasNul(value)) throw badJson('JSON strings may not contain the NUL character (U+0000)');
  return value as Record<string, unknown>;
}

/** Whether a value holds a string (or object key) with U+0000 anywhere; byte arrays are skipped. */
export function hasNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\0');
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return false;
  if (Array.isArray(v)) return v.some(hasNul);
  for (const k in v) if (k.includes('\0') || hasNul((v as Record<string, unknown>)[k])) return true;
  return false;
}

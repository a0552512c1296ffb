/** The `*_json` fields of requests: JSON objects carried as text, parsed with a 400 for bad input. */
import { parseJsonObjectText } from '../../json-text';

type Json = Record<string, unknown>;

/** The object in `text` ('' means {}); 400 M_NOT_JSON / M_BAD_JSON naming the field otherwise. */
export function jsonObject(text: string | undefined, field: string): Json {
  if (text === undefined || text === '') return {};
  return parseJsonObjectText(text, `'${field}' is not valid JSON`, `'${field}' must be a JSON object`);
}

/** As jsonObject, but an absent field stays absent. */
export const optionalJsonObject = (text: string | undefined, field: string): Json | undefined =>
  text === undefined ? undefined : jsonObject(text, field);

/** Matrix identifier grammar (spec §0.4) and generators. */
import { randomInt } from 'node:crypto';

const SERVER_NAME = /^(?:[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** True for `<sigil><localpart>:<valid server name>` (the localpart may be empty). */
export function isValidId(id: string, sigil: '!' | '#' | '@' | '$'): boolean {
  if (typeof id !== 'string' || id[0] !== sigil) return false;
  const colon = id.indexOf(':');
  return colon > 0 && SERVER_NAME.test(id.slice(colon + 1));
}

/** Synapse's parse_and_validate_server_name: a host name or bracketed IP literal, then an optional port. */
export const isValidServerName = (name: string) => SERVER_NAME.test(name);

export const isValidRoomId = (id: string) => isValidId(id, '!');
export const isValidAlias = (id: string) => isValidId(id, '#');
export const isValidUserId = (id: string) => isValidId(id, '@');

/** The domain part of an id (everything after the first colon). */
export const domainOf = (id: string) => id.slice(id.indexOf(':') + 1);
/** The localpart of an id (between the sigil and the first colon). */
export const localpartOf = (id: string) => id.slice(1, id.indexOf(':'));

/** `n` random ASCII letters; Synapse's task, delete and purge ids are 16 letters. */
export function randomLetters(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += LETTERS[randomInt(LETTERS.length)];
  return s;
}

/** Localparts Synapse accepts for new users. */
export const VALID_LOCALPART = /^[a-z0-9=_\-./+]+$/;

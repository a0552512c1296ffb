/**
 * Account data: global (Synapse's `/user/{userId}/account_data/{type}`) and per room
 * (`/user/{userId}/rooms/{roomId}/account_data/{type}`), one JSON object per user (and room) and
 * type, replaced whole on every write. Per-room data is kept for any well-formed room id, as
 * Synapse does; a room purge deletes it, and so does deactivation. Writing `m.ignored_user_list` also rewrites the user's
 * rows in `ignored_users` (the keys of its `ignored_users` object; anything else there ignores
 * nobody, as Synapse reads it), in the same transaction, so pagination sees the list it was given.
 */
import { MatrixError, Codes, echo, forbidden, invalidParam, notFound } from '../errors';
import { parseJsonObjectText } from '../json-text';
import { isValidRoomId } from '../matrix/ids';
import { refuseGuest, type Requester } from '../context';
import type { Em } from '../infra/orm';
import { sql, sqlPrepared } from '../infra/sql';

type Json = Record<string, unknown>;

const IGNORED_USER_LIST = 'm.ignored_user_list';

/** The types with their own APIs, refused here as Synapse does (405 M_BAD_JSON). */
const OWN_API: Record<string, string> = {
  'm.fully_read': 'Cannot set m.fully_read through this API. Use /rooms/!roomId:server.name/read_markers',
  'm.push_rules': 'Cannot set m.push_rules through this API. Use /pushrules',
};

/** Per room, only m.fully_read has its own API (room push rules are not account data in Synapse). */
const OWN_API_IN_ROOMS: Record<string, string> = { 'm.fully_read': OWN_API['m.fully_read'] };

type Caller = Pick<Requester, 'userId' | 'isGuest'>;

/** Only the user themself, and no guest (Synapse's servlets authenticate without allow_guest). */
function checkOwner(caller: Caller, userId: string, verb: 'add' | 'get'): void {
  refuseGuest(caller);
  if (userId !== caller.userId) throw forbidden(`Cannot ${verb} account data for other users.`);
}

/** Synapse's checks of a per-room request, in its order: the user themself, then the room id. */
function checkRoomRequest(caller: Caller, userId: string, roomId: string, verb: 'add' | 'get'): void {
  checkOwner(caller, userId, verb);
  if (!isValidRoomId(roomId)) throw invalidParam(`${echo(roomId)} is not a valid room ID`);
}

/** The users an `m.ignored_user_list` content ignores. */
function ignoredUsersOf(content: Json): string[] {
  const list = content.ignored_users;
  return list && typeof list === 'object' && !Array.isArray(list) ? Object.keys(list) : [];
}

export class AccountDataService {
  /**
   * Stores the JSON object `contentText` for (`userId`, `type`). Checked in Synapse's order: only
   * the user themself may (403), types with their own API are refused (405), then the content must
   * be a JSON object (400 M_NOT_JSON / M_BAD_JSON). Guests are refused (403 M_GUEST_ACCESS_FORBIDDEN).
   */
  async set(em: Em, caller: Caller, userId: string, type: string, contentText: string): Promise<void> {
    checkOwner(caller, userId, 'add');
    if (type in OWN_API) throw new MatrixError(405, OWN_API[type], Codes.BAD_JSON);
    const content = parseJsonObjectText(contentText, 'Content not JSON.', 'Content must be a JSON object.');
    await em.transactional(async (tx) => {
      await sql(
        tx,
        `INSERT INTO account_data (user_id, account_data_type, content, updated_ts) VALUES (?, ?, ?::jsonb, ?)
         ON CONFLICT (user_id, account_data_type) DO UPDATE SET content = excluded.content, updated_ts = excluded.updated_ts`,
        [userId, type, contentText, Date.now()],
      );
      if (type !== IGNORED_USER_LIST) return;
      await sql(tx, 'DELETE FROM ignored_users WHERE ignorer_user_id = ?', [userId]);
      const ignored = ignoredUsersOf(content);
      if (ignored.length > 0)
        await sql(
          tx,
          'INSERT INTO ignored_users (ignorer_user_id, ignored_user_id) SELECT ?, u FROM unnest(ARRAY[?]::text[]) AS u ON CONFLICT DO NOTHING',
          [userId, ignored],
        );
    });
  }

  /** The stored content as JSON text; 404 "Account data not found" when none, 403 for another user's. */
  async get(em: Em, caller: Caller, userId: string, type: string): Promise<string> {
    checkOwner(caller, userId, 'get');
    const rows = await sqlPrepared<{ content: string }>(
      em,
      'SELECT content::text AS content FROM account_data WHERE user_id = ? AND account_data_type = ?',
      [userId, type],
    );
    if (rows.length === 0) throw notFound('Account data not found');
    return rows[0].content;
  }

  /**
   * Stores the JSON object `contentText` for (`userId`, `roomId`, `type`). Checked in Synapse's
   * order: only the user themself (403), a well-formed room id (400 M_INVALID_PARAM; the room need
   * not exist), m.fully_read refused (405), then the content must be a JSON object (400).
   */
  async setForRoom(em: Em, caller: Caller, userId: string, roomId: string, type: string, contentText: string): Promise<void> {
    checkRoomRequest(caller, userId, roomId, 'add');
    if (type in OWN_API_IN_ROOMS) throw new MatrixError(405, OWN_API_IN_ROOMS[type], Codes.BAD_JSON);
    parseJsonObjectText(contentText, 'Content not JSON.', 'Content must be a JSON object.');
    await sql(
      em,
      `INSERT INTO room_account_data (user_id, room_id, account_data_type, content, updated_ts) VALUES (?, ?, ?, ?::jsonb, ?)
       ON CONFLICT (user_id, room_id, account_data_type) DO UPDATE SET content = excluded.content, updated_ts = excluded.updated_ts`,
      [userId, roomId, type, contentText, Date.now()],
    );
  }

  /** The stored per-room content as JSON text; 404 "Room account data not found" when none; 403/400 as setForRoom. */
  async getForRoom(em: Em, caller: Caller, userId: string, roomId: string, type: string): Promise<string> {
    checkRoomRequest(caller, userId, roomId, 'get');
    const rows = await sqlPrepared<{ content: string }>(
      em,
      'SELECT content::text AS content FROM room_account_data WHERE user_id = ? AND room_id = ? AND account_data_type = ?',
      [userId, roomId, type],
    );
    if (rows.length === 0) throw notFound('Room account data not found');
    return rows[0].content;
  }

  /**
   * Every account data entry of the user, as Synapse's admin GET users/<user_id>/accountdata body:
   * `{"account_data": {"global": {type: content}, "rooms": {room_id: {type: content}}}}`,
   * rendered by PostgreSQL, in the statement that checks the user is registered (404 "User not
   * found" when not). The caller checks the id is a local one.
   */
  async readAll(em: Em, userId: string): Promise<string> {
    const rows = await sqlPrepared<{ exists: boolean; body: string }>(
      em,
      `SELECT EXISTS (SELECT 1 FROM users WHERE name = $1) AS exists, json_build_object('account_data', json_build_object(
         'global', (SELECT coalesce(jsonb_object_agg(account_data_type, content), '{}') FROM account_data WHERE user_id = $1),
         'rooms', (SELECT coalesce(jsonb_object_agg(room_id, data), '{}') FROM (
           SELECT room_id, jsonb_object_agg(account_data_type, content) AS data FROM room_account_data WHERE user_id = $1 GROUP BY room_id) r)
       ))::text AS body`,
      [userId],
    );
    if (!rows[0].exists) throw notFound('User not found');
    return rows[0].body;
  }
}

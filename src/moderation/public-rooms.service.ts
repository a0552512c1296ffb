/**
 * The public room directory (spec users-moderation §11): published rooms that are joinable
 * (public, knock, knock_restricted) or world-readable and have members, biggest first, read from
 * room_stats through the partial index that holds exactly those rooms in that order.
 */
import { Codes, MatrixError, badRequest } from '../errors';
import { isValidServerName } from '../matrix/ids';
import type { Em } from '../infra/orm';
import { pageLimitBound, sqlPlannedPerCall, sqlPrepared } from '../infra/sql';
import { decodeRoomListToken, encodeRoomListToken, type RoomListBatch } from './public-rooms.token';
import { SharedReads } from '../infra/shared-reads';

/** Rows per page at most, whatever the limit asked (Synapse since 1.99). */
export const PUBLIC_ROOMS_MAX_PAGE = 100;

export interface PublicRoomsQuery {
  server: string | null;
  /** null: no limit (still pages of PUBLIC_ROOMS_MAX_PAGE). */
  limit: number | null;
  since: string | null;
  searchTerm: string | null;
  /** null: any type; otherwise the types to keep, `null` in it meaning "no type". */
  roomTypes: (string | null)[] | null;
  includeAllNetworks: boolean;
  thirdPartyInstanceId: string | null;
}

export interface PublicRoomEntry {
  roomId: string;
  name: string | null;
  topic: string | null;
  canonicalAlias: string | null;
  numJoinedMembers: number;
  avatarUrl: string | null;
  worldReadable: boolean;
  guestCanJoin: boolean;
  joinRule: string | null;
  roomType: string | null;
}

export interface PublicRoomsPage {
  chunk: PublicRoomEntry[];
  nextBatch: string | null;
  prevBatch: string | null;
  total: number;
}

interface Row {
  room_id: string;
  name: string | null;
  topic: string | null;
  canonical_alias: string | null;
  joined_members: number;
  avatar: string | null;
  history_visibility: string | null;
  guest_access: string | null;
  join_rules: string | null;
  room_type: string | null;
}

// The partial index room_stats_public_directory_idx has exactly this predicate.
const LISTED = `s.is_public AND s.joined_members > 0 AND (s.join_rules IN ('public', 'knock', 'knock_restricted') OR s.history_visibility = 'world_readable')`;

const containing = (s: string) => `%${s.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function roomTypeClause(types: (string | null)[] | null, params: unknown[]): string | null {
  if (!types || types.length === 0) return null;
  const parts: string[] = [];
  const named = [...new Set(types.filter((t): t is string => t !== null))];
  if (types.includes(null)) parts.push('s.room_type IS NULL');
  if (named.length) (parts.push('s.room_type = ANY(?::text[])'), params.push(named));
  return `(${parts.join(' OR ')})`;
}

interface Sql {
  sql: string;
  params: unknown[];
}

/**
 * The statements of one directory page: the page (`rows` rows from the token's position, in the
 * direction it gives) and Synapse's estimate (the listed rooms of the asked types, whatever the
 * search term). Both read room_stats_public_directory_idx.
 */
export function directoryQueries(
  q: Pick<PublicRoomsQuery, 'searchTerm' | 'roomTypes'>,
  bound: RoomListBatch | null,
  rows: number,
): { page: Sql; count: Sql } {
  const forwards = bound ? bound.forwards : true;
  const typeParams: unknown[] = [];
  const typeClause = roomTypeClause(q.roomTypes, typeParams);
  const where = [LISTED];
  const params: unknown[] = [];
  if (bound) {
    // Strictly after (or before) the (joined_members, room_id) pair of the token.
    where.push(forwards ? '(s.joined_members, s.room_id) < (?, ?)' : '(s.joined_members, s.room_id) > (?, ?)');
    params.push(bound.joinedMembers, bound.roomId);
  }
  if (q.searchTerm) {
    where.push(`(lower(s.name) LIKE ? OR lower(s.topic) LIKE ? OR lower(s.canonical_alias) LIKE ?)`);
    const p = containing(q.searchTerm);
    params.push(p, p, p);
  }
  if (typeClause) (where.push(typeClause), params.push(...typeParams));
  const order = forwards ? 's.joined_members DESC, s.room_id DESC' : 's.joined_members ASC, s.room_id ASC';
  const columns =
    's.room_id, s.name, s.topic, s.canonical_alias, s.joined_members, s.avatar, s.history_visibility, s.guest_access, s.join_rules, s.room_type';
  const page = `SELECT ${columns} FROM room_stats s WHERE ${where.join(' AND ')} ORDER BY ${order}`;
  return {
    // A listing is run prepared: the constant inner LIMIT tells its generic plan that the page is
    // small (see pageLimitBound), the bound outer one cuts it to size, in the same order.
    page: q.searchTerm
      ? { sql: `${page} LIMIT ?`, params: [...params, rows] }
      : { sql: `SELECT ${columns} FROM (${page} LIMIT ${pageLimitBound(rows)}) s ORDER BY ${order} LIMIT ?`, params: [...params, rows] },
    count: {
      sql: `SELECT count(*) AS n FROM room_stats s WHERE ${[LISTED, ...(typeClause ? [typeClause] : [])].join(' AND ')}`,
      params: typeParams,
    },
  };
}

export class PublicRoomsService {
  /** Listings being read, by their parameters. */
  private readonly listings = new SharedReads<PublicRoomsPage>();

  constructor(private readonly serverName: string) {}

  async list(em: Em, q: PublicRoomsQuery): Promise<PublicRoomsPage> {
    if (q.server !== null && q.server !== '' && q.server !== this.serverName) {
      if (!isValidServerName(q.server)) throw new MatrixError(400, `Invalid server name: ${q.server}`, Codes.INVALID_PARAM);
      // Federation is not served: Synapse's answer to a server it may not talk to.
      throw new MatrixError(403, `Federation denied with ${q.server}.`, Codes.FORBIDDEN);
    }
    if (q.includeAllNetworks && q.thirdPartyInstanceId !== null)
      throw badRequest("Can't use include_all_networks with an explicit network");
    if (q.thirdPartyInstanceId !== null && q.thirdPartyInstanceId.split('|').length !== 2)
      throw badRequest(`Invalid ID '${q.thirdPartyInstanceId}'`);
    const bound: RoomListBatch | null = q.since ? decodeRoomListToken(q.since) : null;
    // An appservice network's list: this server has no appservice lists.
    if (q.thirdPartyInstanceId !== null) return { chunk: [], nextBatch: null, prevBatch: null, total: 0 };
    // Identical listings asked while one is being read share its answer, as Synapse's response
    // cache does (searches are read each time, as there).
    if (q.searchTerm) return this.read(em, q, bound);
    const key = JSON.stringify([q.limit, q.since, q.roomTypes, q.includeAllNetworks]);
    return this.listings.share(key, () => this.read(em, q, bound));
  }

  private async read(em: Em, q: PublicRoomsQuery, bound: RoomListBatch | null): Promise<PublicRoomsPage> {
    const forwards = bound ? bound.forwards : true;
    const limit = Math.min(q.limit ?? PUBLIC_ROOMS_MAX_PAGE, PUBLIC_ROOMS_MAX_PAGE);
    const { page: pageSql, count: countSql } = directoryQueries(q, bound, limit + 1);
    // A search is planned for its term on every call; a listing and the estimate are prepared.
    const [rows, count] = await Promise.all([
      (q.searchTerm ? sqlPlannedPerCall : sqlPrepared)<Row>(em, pageSql.sql, pageSql.params),
      sqlPrepared<{ n: string }>(em, countSql.sql, countSql.params),
    ]);
    const moreToCome = rows.length > limit;
    const page = rows.slice(0, limit);
    if (!forwards) page.reverse();
    const token = (r: Row, fwd: boolean) => encodeRoomListToken({ joinedMembers: r.joined_members, roomId: r.room_id, forwards: fwd });
    let nextBatch: string | null = null;
    let prevBatch: string | null = null;
    if (page.length > 0) {
      const first = page[0];
      const last = page[page.length - 1];
      if (forwards) {
        if (bound) prevBatch = token(first, false);
        if (moreToCome) nextBatch = token(last, true);
      } else {
        if (bound) nextBatch = token(last, true);
        if (moreToCome) prevBatch = token(first, false);
      }
    }
    return {
      chunk: page.map((r) => ({
        roomId: r.room_id,
        name: r.name,
        topic: r.topic,
        canonicalAlias: r.canonical_alias,
        numJoinedMembers: r.joined_members,
        avatarUrl: r.avatar,
        worldReadable: r.history_visibility === 'world_readable',
        guestCanJoin: r.guest_access === 'can_join',
        joinRule: r.join_rules,
        roomType: r.room_type,
      })),
      nextBatch,
      prevBatch,
      total: Number(count[0].n),
    };
  }
}

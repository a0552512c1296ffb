/**
 * Read queries behind the admin users list (migration 20261207000015-users-list): a page is read in order from the
 * (sort key, name) index of its direction, the `total` of a listing without a search term is a
 * sum over the `user_counts` buckets, and searches gather their matches through trigram indexes
 * before sorting them.
 */
import type { Em } from '../infra/orm';
import { pageLimitBound, sqlPlannedPerCall, sqlPrepared } from '../infra/sql';

/** The users list's sort keys, in Synapse's error message order. */
export const USER_ORDER_BY = [
  'name',
  'displayname',
  'is_guest',
  'admin',
  'deactivated',
  'user_type',
  'avatar_url',
  'shadow_banned',
  'creation_ts',
  'last_seen_ts',
  'locked',
] as const;
export type UserOrderBy = (typeof USER_ORDER_BY)[number];

export interface ListUsersQuery {
  from: number;
  limit: number;
  /** Substring of the whole user id (ignored when `name` is set). */
  userId: string | null;
  /** Substring of the localpart or the display name. */
  name: string | null;
  guests: boolean;
  /** null: no filter. */
  deactivated: boolean | null;
  admins: boolean | null;
  /** false: locked users are left out. */
  locked: boolean;
  suspended: boolean | null;
  /** Only these types ('' = no type); empty: no filter. */
  userTypes: string[];
  /** Not these types ('' = no type). */
  notUserTypes: string[];
  orderBy: UserOrderBy;
  dir: 'f' | 'b';
}

export interface UserSummaryRow {
  name: string;
  user_type: string | null;
  is_guest: boolean;
  admin: boolean;
  deactivated: boolean;
  shadow_banned: boolean;
  displayname: string | null;
  avatar_url: string | null;
  creation_ts: number;
  approved: boolean;
  erased: boolean;
  last_seen_ts: number | null;
  locked: boolean;
  suspended: boolean;
}

/**
 * Synapse's list entry, built by PostgreSQL in Synapse's key order. `approved` is always true:
 * accounts need no approval here (MSC3866 is not implemented).
 */
const SUMMARY_JSON = `json_build_object('name', u.name, 'user_type', u.user_type, 'is_guest', u.is_guest, 'admin', u.admin,
  'deactivated', u.deactivated, 'shadow_banned', u.shadow_banned, 'displayname', u.displayname, 'avatar_url', u.avatar_url,
  'creation_ts', u.creation_ts * 1000, 'approved', true,
  'erased', EXISTS (SELECT 1 FROM erased_users e WHERE e.user_id = u.name), 'last_seen_ts', u.last_seen_ts, 'locked', u.locked)`;

const SUMMARY_COLUMNS = `u.name, u.user_type, u.is_guest, u.admin, u.deactivated, u.shadow_banned, u.displayname, u.avatar_url,
  u.creation_ts * 1000 AS creation_ts, true AS approved, EXISTS (SELECT 1 FROM erased_users e WHERE e.user_id = u.name) AS erased,
  u.last_seen_ts, u.locked, u.suspended`;

/**
 * Filters on the account flags and the user type, as SQL over columns that `users` and
 * `user_counts` share (`user_counts` stores a missing type as '', which the coalesce also gives).
 */
function flagFilters(q: ListUsersQuery, typeColumn: string, params: unknown[]): string[] {
  const parts: string[] = [];
  if (!q.guests) parts.push('NOT is_guest');
  if (q.deactivated !== null) parts.push(q.deactivated ? 'deactivated' : 'NOT deactivated');
  if (!q.locked) parts.push('NOT locked');
  if (q.admins !== null) parts.push(q.admins ? 'admin' : 'NOT admin');
  if (q.suspended !== null) parts.push(q.suspended ? 'suspended' : 'NOT suspended');
  // '' stands for "no type": coalescing maps NULL onto it, so one array test covers both.
  if (q.userTypes.length > 0) (parts.push(`coalesce(${typeColumn}, '') = ANY(?::text[])`), params.push(q.userTypes));
  if (q.notUserTypes.length > 0) (parts.push(`coalesce(${typeColumn}, '') <> ALL(?::text[])`), params.push(q.notUserTypes));
  return parts;
}

/**
 * The WHERE clause of a listing over `users u`. Search terms go into LIKE patterns as Synapse
 * does (`%` and `_` act as wildcards), always as bound parameters: `name` matches the localpart
 * (`@%term%:%`) or the lower-cased display name, `user_id` anywhere in the id.
 */
export function userWhereClause(q: ListUsersQuery): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const parts: string[] = [];
  if (q.name !== null) {
    const term = q.name.toLowerCase();
    parts.push('(u.name LIKE ? OR lower(u.displayname) LIKE ?)');
    params.push(`@%${term}%:%`, `%${term}%`);
  } else if (q.userId !== null) {
    parts.push('u.name LIKE ?');
    params.push(`%${q.userId.toLowerCase()}%`);
  }
  parts.push(...flagFilters(q, 'u.user_type', params));
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

/** ORDER BY of a listing: the key in the requested direction, then the name ascending (Synapse's tiebreak). */
export function userOrder(q: Pick<ListUsersQuery, 'orderBy' | 'dir'>, alias = 'u'): string {
  const direction = q.dir === 'b' ? 'DESC' : 'ASC';
  if (q.orderBy === 'name') return `${alias}.name ${direction}`;
  return `${alias}.${q.orderBy} ${direction}, ${alias}.name ASC`;
}

const searching = (q: ListUsersQuery) => q.name !== null || q.userId !== null;

/**
 * The prepared statement of a users list page (and its total), as `UserListRepository.page` runs
 * it. Without a search term, the page walks the sort index (the offset is skipped in a subquery
 * reading only that index and the filter columns) and the total comes from `user_counts`; with
 * one, the matches are gathered once (trigram indexes), then counted and sorted.
 */
export function userPageStatement(q: ListUsersQuery, shape: 'rows' | 'json'): { text: string; params: unknown[] } {
  return searching(q) ? searchPageStatement(q, shape) : listPageStatement(q, shape);
}

/** The page without a search term: walked from the sort index, joined back to `users` by its key. */
function listPageStatement(q: ListUsersQuery, shape: 'rows' | 'json'): { text: string; params: unknown[] } {
  const where = userWhereClause(q);
  const order = userOrder(q);
  const keys = q.orderBy === 'name' ? 'u.name' : `u.name, u.${q.orderBy}`;
  // The constant inner LIMIT tells the generic plan the page is small (see pageLimitBound); the
  // bound outer one cuts it to the requested size, in the same order.
  const bound = pageLimitBound(q.limit);
  const total = countSql(q);
  const params = [...where.params, q.from, q.limit, ...total.params];
  const page = `WITH page AS (SELECT u.name FROM (SELECT ${keys} FROM users u ${where.sql} ORDER BY ${order} LIMIT ${bound} OFFSET ?) u ORDER BY ${order} LIMIT ?)`;
  const text =
    shape === 'json'
      ? `${page}
         SELECT ${total.sql} AS total,
                (SELECT coalesce(json_agg(${SUMMARY_JSON} ORDER BY ${order}), '[]')::text FROM page JOIN users u ON u.name = page.name) AS users`
      : `${page}
       SELECT ${total.sql} AS total, ${SUMMARY_COLUMNS}
         FROM (SELECT 1) one LEFT JOIN page ON true LEFT JOIN users u ON u.name = page.name
        ORDER BY ${order}`;
  return { text, params };
}

/**
 * The page of a search: the keys of the matches are gathered once (through the trigram indexes
 * when the pattern has a trigram: the statement is planned for its pattern), counted and sorted,
 * and the page's rows are looked up by key one at a time (the `OFFSET 0` keeps the planner from
 * turning the lookups into a hash join over the whole table, its choice for a custom plan on a
 * table of tens of thousands of users).
 */
function searchPageStatement(q: ListUsersQuery, shape: 'rows' | 'json'): { text: string; params: unknown[] } {
  const where = userWhereClause(q);
  const order = userOrder(q);
  const keys = q.orderBy === 'name' ? 'u.name' : `u.name, u.${q.orderBy}`;
  const params = [...where.params, q.limit, q.from];
  const page = `WITH m AS MATERIALIZED (SELECT ${keys} FROM users u ${where.sql}),
                     page AS (SELECT u.name FROM m u ORDER BY ${order} LIMIT ? OFFSET ?)`;
  const lookup = 'CROSS JOIN LATERAL (SELECT * FROM users u WHERE u.name = page.name OFFSET 0) u';
  const text =
    shape === 'json'
      ? `${page}
         SELECT (SELECT count(*) FROM m) AS total,
                (SELECT coalesce(json_agg(${SUMMARY_JSON} ORDER BY ${order}), '[]')::text FROM page ${lookup}) AS users`
      : `${page}
       SELECT (SELECT count(*) FROM m) AS total, ${SUMMARY_COLUMNS}
         FROM (SELECT 1) one LEFT JOIN (page ${lookup}) ON true
        ORDER BY ${order}`;
  return { text, params };
}

/** The total of a listing without a search term: a sum over the matching `user_counts` buckets. */
function countSql(q: ListUsersQuery): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const parts = flagFilters(q, 'user_type', params);
  return { sql: `(SELECT coalesce(sum(users), 0) FROM user_counts ${parts.length ? `WHERE ${parts.join(' AND ')}` : ''})`, params };
}

export class UserListRepository {
  /**
   * A page and the number of users matching the filters. Without a search term, the page walks
   * the sort index (the offset is skipped in a subquery reading only that index and the filter
   * columns) and the total comes from `user_counts`; with one, the matches are gathered once
   * (trigram indexes), then counted and sorted.
   */
  page(em: Em, q: ListUsersQuery, shape: 'rows'): Promise<{ users: UserSummaryRow[]; total: number }>;
  page(em: Em, q: ListUsersQuery, shape: 'json'): Promise<{ users: string; total: number }>;
  async page(em: Em, q: ListUsersQuery, shape: 'rows' | 'json'): Promise<{ users: UserSummaryRow[] | string; total: number }> {
    const { text, params } = userPageStatement(q, shape);
    // A search is planned for its pattern: the trigram indexes pay only for a term with a trigram
    // of its own (`_ab` has none and walks the whole index: 46 ms generic against an 8 ms
    // sequential scan at 100,000 users), and planning costs under half a millisecond.
    const run = searching(q) ? sqlPlannedPerCall : sqlPrepared;
    if (shape === 'json') {
      const rows = await run<{ total: string | null; users: string }>(em, text, params);
      return { users: rows[0].users, total: Number(rows[0].total ?? 0) };
    }
    const rows = await run<Record<string, unknown> & { total: string | null }>(em, text, params);
    return { users: rows.filter((r) => r.name !== null).map(toRow), total: Number(rows[0]?.total ?? 0) };
  }
}

function toRow(r: Record<string, unknown>): UserSummaryRow {
  return {
    name: r.name as string,
    user_type: (r.user_type as string | null) ?? null,
    is_guest: r.is_guest === true,
    admin: r.admin === true,
    deactivated: r.deactivated === true,
    shadow_banned: r.shadow_banned === true,
    displayname: (r.displayname as string | null) ?? null,
    avatar_url: (r.avatar_url as string | null) ?? null,
    creation_ts: Number(r.creation_ts),
    approved: r.approved === true,
    erased: r.erased === true,
    last_seen_ts: r.last_seen_ts === null || r.last_seen_ts === undefined ? null : Number(r.last_seen_ts),
    locked: r.locked === true,
    suspended: r.suspended === true,
  };
}

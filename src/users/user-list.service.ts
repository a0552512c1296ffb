/**
 * The admin users list (`GET /_synapse/admin/v2/users`, `/v3/users`): Synapse's filters, sort keys
 * and paging, over the indexes and counts of migration 20261207000015-users-list.
 */
import type { Em } from '../infra/orm';
import { invalidParam } from '../errors';
import { DIRECTIONS, ifGiven, parseAsciiParam, parseBoolParam, parseChoiceParam, parseIntParam } from '../matrix/query-params';
import { USER_ORDER_BY, UserListRepository, type ListUsersQuery, type UserOrderBy, type UserSummaryRow } from './user-list.repository';

export const DEFAULT_USERS_PER_PAGE = 100;

export interface ListUsersInput {
  from?: number;
  limit?: number;
  userId?: string;
  name?: string;
  guests?: boolean;
  /** Absent: no filter (v3); the v2 route maps its own default onto this. */
  deactivated?: boolean;
  admins?: boolean;
  locked?: boolean;
  suspended?: boolean;
  userTypes?: string[];
  notUserTypes?: string[];
  orderBy?: UserOrderBy;
  dir?: 'f' | 'b';
  /**
   * The REST query as given: with it, `userId`, `name`, `userTypes` and `notUserTypes` are taken
   * as given too, and everything is checked in Synapse's order (see `fromRest`).
   */
  rest?: RestUsersQuery;
}

/** A users list query string's values as given (absent parameters null or undefined). */
export interface RestUsersQuery {
  version: 'v2' | 'v3';
  from?: string | null;
  limit?: string | null;
  guests?: string | null;
  deactivated?: string | null;
  locked?: string | null;
  admins?: string | null;
  orderBy?: string | null;
  dir?: string | null;
  suspended?: string | null;
}

/**
 * The input of a REST query, checked in Synapse's order: from, limit, user_id (ASCII), guests,
 * deactivated, locked, admins, order_by, dir, not_user_type (ASCII), and then the two filters this
 * service adds, suspended and user_type (ASCII). v2's `deactivated` leaves deactivated users out
 * unless true, which then applies no filter; v3's applies no filter unless given.
 */
function fromRest(input: ListUsersInput, r: RestUsersQuery): ListUsersInput {
  const from = ifGiven('from', r.from, parseIntParam);
  const limit = ifGiven('limit', r.limit, parseIntParam);
  const userId = ifGiven('user_id', input.userId, parseAsciiParam);
  const guests = ifGiven('guests', r.guests, parseBoolParam);
  const deactivatedParam = ifGiven('deactivated', r.deactivated, parseBoolParam);
  const locked = ifGiven('locked', r.locked, parseBoolParam);
  const admins = ifGiven('admins', r.admins, parseBoolParam);
  const orderBy = ifGiven('order_by', r.orderBy, (n, v) => parseChoiceParam(n, v, USER_ORDER_BY));
  const dir = ifGiven('dir', r.dir, (n, v) => parseChoiceParam(n, v, DIRECTIONS));
  const notUserTypes = (input.notUserTypes ?? []).map((t) => parseAsciiParam('not_user_type', t));
  const suspended = ifGiven('suspended', r.suspended, parseBoolParam);
  const userTypes = (input.userTypes ?? []).map((t) => parseAsciiParam('user_type', t));
  const deactivated = r.version === 'v3' ? deactivatedParam : deactivatedParam === true ? undefined : false;
  return { from, limit, userId, name: input.name, guests, deactivated, admins, locked, suspended, userTypes, notUserTypes, orderBy, dir };
}

export interface UserListPage {
  users: UserSummaryRow[];
  total: number;
  /** Offset of the next page, when `from + limit < total` (and the page is not empty by request). */
  nextToken?: number;
}

export class UserListService {
  constructor(private readonly list = new UserListRepository()) {}

  /** One page with the total. Throws 400 M_INVALID_PARAM for a negative `from` or `limit`. */
  async listUsers(em: Em, input: ListUsersInput): Promise<UserListPage> {
    const q = toQuery(input);
    const { users, total } = await this.list.page(em, q, 'rows');
    return { users, total, nextToken: nextToken(q, total) };
  }

  /**
   * The same page as Synapse's response body, rendered by the database: `users`, `total`, then
   * `next_token` (a string, as Synapse sends it) when there is a next page.
   */
  async listUsersJson(em: Em, input: ListUsersInput): Promise<{ json: string; total: number; nextToken?: number }> {
    const q = toQuery(input);
    const { users, total } = await this.list.page(em, q, 'json');
    const next = nextToken(q, total);
    return { json: `{"users":${users},"total":${total}${next === undefined ? '' : `,"next_token":"${next}"`}}`, total, nextToken: next };
  }
}

/**
 * Synapse sets `next_token` to `from + len(users)` whenever `from + limit < total`; with `limit=0`
 * that is `from` itself, a token that never advances, so none is given for an empty page asked for.
 */
function nextToken(q: ListUsersQuery, total: number): number | undefined {
  if (q.limit === 0 || q.from + q.limit >= total) return undefined;
  return q.from + q.limit;
}

function toQuery(given: ListUsersInput): ListUsersQuery {
  const input = given.rest ? fromRest(given, given.rest) : given;
  const from = input.from ?? 0;
  const limit = input.limit ?? DEFAULT_USERS_PER_PAGE;
  if (!Number.isSafeInteger(from) || from < 0) throw invalidParam('Query parameter from must be a positive integer.');
  if (!Number.isSafeInteger(limit) || limit < 0) throw invalidParam('Query parameter limit must be a positive integer.');
  return {
    from,
    limit,
    userId: input.userId || null,
    name: input.name || null,
    guests: input.guests ?? true,
    deactivated: input.deactivated ?? null,
    admins: input.admins ?? null,
    locked: input.locked ?? false,
    suspended: input.suspended ?? null,
    userTypes: input.userTypes ?? [],
    notUserTypes: input.notUserTypes ?? [],
    orderBy: input.orderBy ?? 'name',
    dir: input.dir ?? 'f',
  };
}

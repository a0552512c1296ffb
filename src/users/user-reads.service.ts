/**
 * Per-user admin reads (rooms, memberships, counts, whois) and the name check of registration, with
 * Synapse's errors (spec §3 and §8).
 */
import type { Requester } from '../context';
import type { Em } from '../infra/orm';
import { Codes, badRequest, forbidden, invalidParam } from '../errors';
import { VALID_LOCALPART, domainOf } from '../matrix/ids';
import { UserReadsRepository } from './user-reads.repository';
import type { ClientIpRecorder } from './client-ips';

/** Synapse's MAX_USERID_LENGTH. */
export const MAX_USERID_LENGTH = 255;
const GUEST_USER_ID = /^\d+$/;

/** A connection of whois: an access token seen from an address. */
export interface WhoisConnection {
  ip: string;
  last_seen: number;
  user_agent: string;
}

/**
 * Synapse's UserID.from_string: 400 M_INVALID_PARAM unless the id starts with `@` and has a
 * domain. Returns the id.
 */
export function parseUserId(userId: string): string {
  if (!userId.startsWith('@')) throw invalidParam("Expected UserID string to start with '@'");
  if (!userId.includes(':')) throw invalidParam("Expected UserID of the form '@localname:domain'");
  return userId;
}

export class UserReadsService {
  constructor(
    private readonly serverName: string,
    /** Recorded client addresses (none: whois lists no connection). */
    private readonly clientIps: ClientIpRecorder | null = null,
    private readonly repo = new UserReadsRepository(),
  ) {}

  /**
   * Rooms whose current state has the user joined. As in Synapse, the id is not checked: an
   * unknown or remote user has the rooms this server knows them joined to (often none).
   */
  async joinedRooms(em: Em, userId: string): Promise<string[]> {
    return (await this.repo.memberships(em, userId, 'join')).map((r) => r.room_id);
  }

  /** Room id → current membership of the user, from current state (no check of the id, as in Synapse). */
  async memberships(em: Em, userId: string): Promise<Record<string, string>> {
    return Object.fromEntries((await this.repo.memberships(em, userId)).map((r) => [r.room_id, r.membership]));
  }

  /** Invites the user sent that this server received at or after `fromTs` (ms). */
  sentInviteCount(em: Em, userId: string, fromTs: number): Promise<number> {
    return this.repo.sentInviteCount(em, userId, checkedTs(fromTs));
  }

  /** Distinct rooms the user joined at or after `fromTs` (ms), including rooms left since. */
  cumulativeJoinedRoomCount(em: Em, userId: string, fromTs: number): Promise<number> {
    return this.repo.cumulativeJoinedRoomCount(em, userId, checkedTs(fromTs));
  }

  /**
   * Whois: anyone may ask about themselves, only admins about others (403 "You are not a server
   * admin"); 400 for a remote user. The connections are one per (access token, address) the user
   * was seen with, latest first, including sightings not written yet (as Synapse's). No check that
   * the user exists (an unknown user has none).
   */
  async whois(em: Em, requester: Requester, userId: string): Promise<WhoisConnection[]> {
    parseUserId(userId);
    if (userId !== requester.userId && !requester.isAdmin) throw forbidden('You are not a server admin');
    if (domainOf(userId) !== this.serverName) throw badRequest('Can only whois a local user');
    if (!this.clientIps) return [];
    const rows = await this.clientIps.connections(userId, (repo) => repo.connections(em, userId));
    return rows.map((c) => ({ ip: c.ip, last_seen: c.lastSeen, user_agent: c.userAgent }));
  }

  /**
   * Synapse's registration name check, in its order: characters, emptiness, leading underscore,
   * length of the whole id, taken (whatever the case), purely numeric. Throws the first failure.
   */
  async checkUsername(em: Em, localpart: string): Promise<void> {
    if (localpart !== '' && !VALID_LOCALPART.test(localpart))
      throw badRequest("User ID can only contain characters a-z, 0-9, or '=_-./+'", Codes.INVALID_USERNAME);
    if (!localpart) throw badRequest('User ID cannot be empty', Codes.INVALID_USERNAME);
    if (localpart.startsWith('_')) throw badRequest('User ID may not begin with _', Codes.INVALID_USERNAME);
    const userId = `@${localpart}:${this.serverName}`;
    if (userId.length > MAX_USERID_LENGTH)
      throw badRequest(`User ID may not be longer than ${MAX_USERID_LENGTH} characters`, Codes.INVALID_USERNAME);
    if (await this.repo.userIdTakenIgnoringCase(em, userId)) throw badRequest('User ID already taken.', Codes.USER_IN_USE);
    if (GUEST_USER_ID.test(localpart)) throw badRequest('Numeric user IDs are reserved for guest users.', Codes.INVALID_USERNAME);
  }
}

function checkedTs(fromTs: number): number {
  if (!Number.isSafeInteger(fromTs) || fromTs < 0) throw invalidParam('Query parameter from_ts must be a positive integer.');
  return fromTs;
}

/**
 * Users, devices and access tokens: shared-secret registration, password login, whoami, logout
 * and the user admin operations. Errors are Synapse's.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Em } from '../infra/orm';
import type { Requester } from '../context';
import { Codes, MatrixError, badRequest, echo, forbidden, notFound, unknownToken } from '../errors';
import { VALID_LOCALPART, domainOf, isValidUserId, localpartOf } from '../matrix/ids';
import { DEFAULT_PASSWORD_HASH_COST, hashPassword, hashToken, newAccessToken, newDeviceId, verifyPassword } from './credentials';
import { TokenCache } from './token-cache';
import type { ClientAddress } from '../client-address';
import type { ClientIpRecorder } from './client-ips';
import { UserEntity } from '../infra/entities';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { UserRepository, type ExternalId, type Threepid, type UserFields } from './user.repository';
import { UserReadsRepository } from './user-reads.repository';
import { deactivateBody, suspendBody } from './user-admin.bodies';

export const NONCE_TIMEOUT_MS = 60_000;
/** A user's last-seen time is kept to this precision (Synapse's LAST_SEEN_GRANULARITY). */
export const LAST_SEEN_GRANULARITY_MS = 120_000;
/** Users whose last-seen write this instance remembers before it starts afresh. */
const LAST_SEEN_MEMORY = 100_000;
const MAX_CREDENTIAL_LENGTH = 512;
const USER_TYPES = ['support', 'bot'];
/** The third-party id media Synapse stores. */
const THREEPID_MEDIA = ['email', 'msisdn'];

/** Synapse's refusal of a locked account, on any authenticated request and on login. */
const lockedError = () => new MatrixError(401, 'User account has been locked', Codes.USER_LOCKED, { soft_logout: true });

export interface Session {
  userId: string;
  accessToken: string;
  deviceId: string;
  homeServer: string;
}

export interface UserView {
  name: string;
  displayname: string | null;
  admin: boolean;
  deactivated: boolean;
  isGuest: boolean;
  creationTs: number;
  userType: string | null;
  erased: boolean;
  avatarUrl: string | null;
  /** When one of the user's tokens last authenticated a request (ms), if ever. */
  lastSeenTs: number | null;
  locked: boolean;
  suspended: boolean;
  shadowBanned: boolean;
  threepids: Threepid[];
  externalIds: ExternalId[];
}

export interface RegisterRequest {
  nonce: string;
  username: unknown;
  password: unknown;
  admin: boolean;
  userType?: string | null;
  displayname?: string | null;
  mac: string;
}

export interface UpsertUserInput {
  userId: string;
  password?: string;
  admin?: boolean;
  deactivated?: boolean;
  displayname?: string;
  avatarUrl?: string;
  logoutDevices?: boolean;
  locked?: boolean;
  /** null clears the type; undefined leaves it. */
  userType?: string | null;
  /** The whole new set of third-party ids; undefined leaves them. */
  threepids?: { medium: string; address: string }[];
  /** The whole new set of external ids; undefined leaves them. */
  externalIds?: ExternalId[];
}

/** Profile changes of an existing user, applied (and written into their rooms) by ProfileService. */
export type ApplyProfile = (change: { displayname?: string; avatarUrl?: string }) => Promise<void>;

export class UserService {
  constructor(
    private readonly serverName: string,
    private readonly sharedSecret: string | null,
    /** Resolved tokens (disabled unless its invalidation channel is live). */
    readonly tokens = new TokenCache(0),
    /** Where client addresses are recorded (none: not recorded, e.g. the seed tool). */
    readonly clientIps: ClientIpRecorder | null = null,
    /** log2 of scrypt's N for new password hashes (`PASSWORD_HASH_COST`). */
    private readonly passwordHashCost = DEFAULT_PASSWORD_HASH_COST,
    private readonly repo = new UserRepository(),
  ) {}

  /** Existence checks that load no entity. */
  private readonly reads = new UserReadsRepository();

  /** When this instance last wrote each user's last-seen time. */
  private readonly seenWrittenAt = new Map<string, number>();

  /**
   * Resolves an access token; throws 401 M_UNKNOWN_TOKEN for unknown or expired tokens. `em` is
   * called only when the token is not served from memory. With `client`, the request's address and
   * user agent are recorded for the authenticated entity (for a login-as token, the admin using
   * it), as Synapse's auth does: only for a request that passed every check.
   */
  async authenticate(em: () => Em, token: string, allowLocked = false, client?: ClientAddress): Promise<Requester> {
    const hash = hashToken(token);
    const key = hash.toString('hex');
    let owner = this.tokens.get(key);
    if (!owner) {
      const mark = this.tokens.mark();
      owner = await this.repo.findTokenOwner(em(), hash);
      if (owner) this.tokens.set(key, owner, mark);
    }
    if (!owner) throw unknownToken();
    if (owner.validUntilMs !== null && owner.validUntilMs < Date.now()) {
      throw new MatrixError(401, 'Access token has expired', Codes.UNKNOWN_TOKEN, { soft_logout: true });
    }
    if (owner.deactivated) throw unknownToken();
    if (owner.locked && !allowLocked) throw lockedError();
    await this.noteSeen(em, owner.authenticatedEntity);
    if (client) this.clientIps?.record(owner.authenticatedEntity, owner.tokenId, owner.deviceId, client);
    return {
      userId: owner.userId,
      deviceId: owner.deviceId,
      tokenId: owner.tokenId,
      isAdmin: owner.admin,
      isGuest: owner.isGuest,
      suspended: owner.suspended,
      shadowBanned: owner.shadowBanned,
    };
  }

  /**
   * Records that the user (for a login-as token, the admin using it) made a request, at most once
   * per LAST_SEEN_GRANULARITY_MS per user and instance, as Synapse records client IPs.
   */
  private async noteSeen(em: () => Em, userId: string): Promise<void> {
    const now = Date.now();
    const last = this.seenWrittenAt.get(userId);
    if (last !== undefined && now - last < LAST_SEEN_GRANULARITY_MS) return;
    if (this.seenWrittenAt.size >= LAST_SEEN_MEMORY) this.seenWrittenAt.clear();
    this.seenWrittenAt.set(userId, now);
    await this.repo.touchLastSeen(em(), userId, now);
  }

  async newRegistrationNonce(em: Em): Promise<string> {
    const nonce = randomBytes(32).toString('hex');
    await this.repo.insertNonce(em, nonce, Date.now(), NONCE_TIMEOUT_MS);
    return nonce;
  }

  /** Synapse's shared-secret registration: the nonce is consumed even when the MAC is wrong. */
  async registerWithSharedSecret(em: Em, req: RegisterRequest): Promise<Session> {
    if (!this.sharedSecret) throw badRequest('Shared secret registration is not enabled');
    if (!req.nonce) throw badRequest('nonce must be specified', Codes.BAD_JSON);
    if (!(await this.repo.consumeNonce(em, req.nonce, Date.now(), NONCE_TIMEOUT_MS))) throw badRequest('unrecognised nonce');
    if (req.username === undefined || req.username === null) throw badRequest('username must be specified', Codes.BAD_JSON);
    if (typeof req.username !== 'string' || req.username.length > MAX_CREDENTIAL_LENGTH || req.username.includes('\0'))
      throw badRequest('Invalid username');
    if (req.password === undefined || req.password === null) throw badRequest('password must be specified', Codes.BAD_JSON);
    if (typeof req.password !== 'string' || req.password.length > MAX_CREDENTIAL_LENGTH || req.password.includes('\0'))
      throw badRequest('Invalid password');
    if (req.userType && !USER_TYPES.includes(req.userType)) throw badRequest('Invalid user type');
    if (!req.mac) throw badRequest('mac must be specified', Codes.BAD_JSON);
    const mac = createHmac('sha1', this.sharedSecret);
    mac
      .update(req.nonce)
      .update('\0')
      .update(req.username)
      .update('\0')
      .update(req.password)
      .update('\0')
      .update(req.admin ? 'admin' : 'notadmin');
    if (req.userType) mac.update('\0').update(req.userType);
    const want = Buffer.from(mac.digest('hex'));
    const got = Buffer.from(req.mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw forbidden('HMAC incorrect');
    const userId = await this.createUser(
      em,
      req.username.toLowerCase(),
      req.password,
      req.admin,
      req.displayname ?? null,
      req.userType ?? null,
    );
    return this.newSession(em, userId, null, null);
  }

  /** Creates a local user; throws M_USER_IN_USE / M_INVALID_USERNAME as Synapse does. */
  async createUser(
    em: Em,
    localpart: string,
    password: string | null,
    admin: boolean,
    displayname: string | null = null,
    userType: string | null = null,
  ): Promise<string> {
    if (!VALID_LOCALPART.test(localpart))
      throw badRequest("User ID can only contain characters a-z, 0-9, or '=_-./+'", Codes.INVALID_USERNAME);
    const userId = `@${localpart}:${this.serverName}`;
    if (userId.length > 255) throw badRequest('User ID may not be longer than 255 characters', Codes.INVALID_USERNAME);
    if (await this.repo.findUser(em, userId)) throw badRequest('User ID already taken.', Codes.USER_IN_USE);
    const passwordHash = password === null ? null : await hashPassword(password, this.passwordHashCost);
    em.persist(
      em.create(UserEntity, {
        name: userId,
        passwordHash,
        admin,
        displayname: displayname ?? localpart,
        userType,
        creationTs: Math.floor(Date.now() / 1000),
      }),
    );
    await em.flush();
    return userId;
  }

  /** Creates (or reuses) a device and mints an access token for it. */
  async newSession(em: Em, userId: string, deviceId: string | null, displayName: string | null): Promise<Session> {
    const device = deviceId || newDeviceId();
    await this.repo.upsertDevice(em, userId, device, displayName);
    const accessToken = newAccessToken(localpartOf(userId));
    await this.repo.insertToken(em, accessToken, userId, device);
    return { userId, accessToken, deviceId: device, homeServer: this.serverName };
  }

  async login(em: Em, type: string, user: string, password: string, deviceId: string | null, displayName: string | null): Promise<Session> {
    if (type !== 'm.login.password') throw badRequest(`Unknown login type ${echo(type)}`);
    if (!user) throw badRequest('Invalid username or password', Codes.INVALID_PARAM);
    const userId = user.startsWith('@') ? user : `@${user.toLowerCase()}:${this.serverName}`;
    const found = isValidUserId(userId) ? await this.repo.findUser(em, userId) : null;
    if (!found || !(await verifyPassword(password, found.passwordHash))) throw forbidden('Invalid username or password');
    if (found.deactivated) throw new MatrixError(403, 'This account has been deactivated', Codes.USER_DEACTIVATED);
    if (found.locked) throw lockedError();
    return this.newSession(em, userId, deviceId, displayName);
  }

  async logout(em: Em, requester: Requester): Promise<void> {
    if (requester.deviceId) await this.repo.deleteDevice(em, requester.userId, requester.deviceId);
    else await this.repo.deleteToken(em, requester.tokenId);
    this.tokens.evictUser(requester.userId);
  }

  /**
   * PUT /_synapse/admin/v2/users/<user_id>: create or modify a local user. Deactivating an active
   * user does what the deactivate endpoint does to the account (`deactivated` in the result: the
   * caller then parts the user from their rooms). An existing user's display name and avatar go
   * through `applyProfile` (before deactivation, in Synapse's order), so the change reaches the
   * rooms; a new user's are stored as given ("" for no avatar).
   */
  async upsertUser(
    em: Em,
    input: UpsertUserInput,
    applyProfile?: ApplyProfile,
  ): Promise<{ user: UserView; created: boolean; deactivated: boolean }> {
    if (!isValidUserId(input.userId)) throw badRequest(`Invalid user id: ${echo(input.userId)}`, Codes.INVALID_PARAM);
    if (domainOf(input.userId) !== this.serverName) throw badRequest('This endpoint can only be used with local users');
    const threepids = input.threepids?.map(canonicalThreepid);
    if (input.userType !== undefined && input.userType !== null && !USER_TYPES.includes(input.userType))
      throw badRequest('Invalid user type');
    if (input.password !== undefined && (input.password.length > MAX_CREDENTIAL_LENGTH || input.password.includes('\0')))
      throw badRequest('Invalid password', Codes.INVALID_PARAM);
    if (input.deactivated && input.locked) throw badRequest("An user can't be deactivated and locked");
    let user = await this.repo.findUser(em, input.userId);
    const created = !user;
    let deactivated = false;
    if (!user) {
      const localpart = localpartOf(input.userId);
      await this.createUser(em, localpart, input.password ?? null, input.admin ?? false, input.displayname ?? null, input.userType ?? null);
      user = (await this.repo.findUser(em, input.userId))!;
      if (threepids) await this.repo.replaceThreepids(em, user.name, threepids, Date.now());
      if (input.externalIds) await this.replaceExternalIds(em, user.name, input.externalIds);
      if (input.avatarUrl) user.avatarUrl = input.avatarUrl;
      if (input.deactivated) user.deactivated = true;
    } else {
      if (input.displayname !== undefined || input.avatarUrl !== undefined) {
        if (!applyProfile) throw new Error('upsertUser: a profile change needs applyProfile');
        await applyProfile({ displayname: input.displayname, avatarUrl: input.avatarUrl });
        // Re-read what it stored; nothing else of the user has changed yet.
        await em.refresh(user);
      }
      if (threepids) await this.repo.replaceThreepids(em, user.name, threepids, Date.now());
      if (input.externalIds) await this.replaceExternalIds(em, user.name, input.externalIds);
      if (input.password !== undefined) {
        user.passwordHash = await hashPassword(input.password, this.passwordHashCost);
        if (input.logoutDevices !== false) await this.repo.deleteAllSessions(em, user.name);
      }
      if (input.admin !== undefined) user.admin = input.admin;
      if (input.deactivated !== undefined) {
        if (input.deactivated && !user.deactivated) {
          await this.repo.deactivate(em, user.name, false);
          deactivated = true;
        }
        // Reactivating an erased account lifts the erasure, as Synapse does.
        if (!input.deactivated && user.deactivated) await this.repo.clearErased(em, user.name);
        user.deactivated = input.deactivated;
        if (input.deactivated) user.passwordHash = null;
      }
      if (input.locked !== undefined) user.locked = input.locked;
      if (input.userType !== undefined) user.userType = input.userType;
    }
    await em.flush();
    this.tokens.evictUser(input.userId);
    return { user: await this.view(em, user.name), created, deactivated };
  }

  /** Throws what deactivating `userId` would refuse it with: 400 for an invalid or remote id, 404 for an unknown user. */
  async checkDeactivatable(em: Em, userId: string): Promise<void> {
    if (!isValidUserId(userId)) throw badRequest(`Invalid user id: ${echo(userId)}`, Codes.INVALID_PARAM);
    if (domainOf(userId) !== this.serverName) throw badRequest('Can only deactivate local users');
    if (!(await this.reads.userExists(em, userId))) throw notFound('User not found');
  }

  /**
   * The account part of POST /_synapse/admin/v1/deactivate/<user_id>, in one statement: devices,
   * tokens, account data and the ignore list are deleted, the password cleared and the account
   * marked deactivated; with `erase`, also marked erased. Clearing the profile
   * (ProfileService.erase) and leaving the user's rooms are the caller's part. 400 for invalid or remote ids, 404 "User not found".
   * `erase` may be the REST body as received, read after the user is checked, as Synapse does.
   * Returns whether the user was erased.
   */
  async deactivate(em: Em, userId: string, given: boolean | { body: Uint8Array }): Promise<boolean> {
    await this.checkDeactivatable(em, userId);
    const erase = typeof given === 'object' ? deactivateBody(given.body) : given;
    await this.repo.deactivate(em, userId, erase);
    this.tokens.evictUser(userId);
    return erase;
  }

  async getUser(em: Em, userId: string): Promise<UserView> {
    if (!isValidUserId(userId)) throw badRequest(`Invalid user id: ${echo(userId)}`, Codes.INVALID_PARAM);
    if (domainOf(userId) !== this.serverName) throw badRequest('Can only look up local users');
    return this.view(em, userId);
  }

  /**
   * PUT /_synapse/admin/v1/suspend/<user_id>: suspends or reinstates a local user (400 "Can only
   * suspend local users", 404 "User not found"). Returns the new state. Without `suspend` only the
   * user is checked; the REST body as received (`{"suspend": …}`) is read after the user is
   * checked, as Synapse does.
   */
  async setSuspended(em: Em, userId: string, given: boolean | undefined | { body: Uint8Array }): Promise<boolean> {
    await this.checkLocal(em, userId, 'Can only suspend local users');
    const suspend = typeof given === 'object' ? suspendBody(given.body) : given;
    if (suspend === undefined) return false;
    await this.repo.setFlag(em, userId, 'suspended', suspend);
    this.tokens.evictUser(userId);
    return suspend;
  }

  /**
   * POST / DELETE /_synapse/admin/v1/users/<user_id>/shadow_ban: 400 "Only local users can be
   * shadow-banned", 404 "User not found" (Synapse: M_UNKNOWN "No row found").
   */
  async setShadowBanned(em: Em, userId: string, banned: boolean): Promise<void> {
    await this.checkLocal(em, userId, 'Only local users can be shadow-banned');
    await this.repo.setFlag(em, userId, 'shadow_banned', banned);
    this.tokens.evictUser(userId);
  }

  /**
   * 400 `remoteError` for another server's user (whatever its server name looks like, as Synapse
   * compares only the domain), 400 for an invalid id, 404 "User not found" for an unknown user.
   */
  async checkLocal(em: Em, userId: string, remoteError: string): Promise<void> {
    this.checkLocalId(userId, remoteError);
    if (!(await this.reads.userExists(em, userId))) throw notFound('User not found');
  }

  /** The half of checkLocal that needs no database: 400 `remoteError` for another server's id, 400 for a malformed one. */
  checkLocalId(userId: string, remoteError: string): void {
    const colon = userId.indexOf(':');
    if (userId.startsWith('@') && colon > 0 && userId.slice(colon + 1) !== this.serverName) throw badRequest(remoteError);
    if (!isValidUserId(userId) || domainOf(userId) !== this.serverName)
      throw badRequest(`Invalid user id: ${echo(userId)}`, Codes.INVALID_PARAM);
  }

  /** What the admin API shows of a registered user, read in one statement. */
  private async view(em: Em, userId: string): Promise<UserView> {
    const found = await this.repo.findUserView(em, userId);
    if (!found) throw notFound('User not found');
    return { ...toView(found.user, found.erased, found.threepids), externalIds: found.externalIds };
  }

  /**
   * Replaces the user's external ids, all or nothing. A pair mapped to another user, or given twice,
   * is 409 "External id is already in use." (Synapse's answer to the unique violation).
   */
  private async replaceExternalIds(em: Em, userId: string, wanted: ExternalId[]): Promise<void> {
    const inUse = () => new MatrixError(409, 'External id is already in use.', Codes.UNKNOWN);
    const keys = new Set(wanted.map((e) => JSON.stringify([e.authProvider, e.externalId])));
    if (keys.size !== wanted.length) throw inUse();
    try {
      await this.repo.replaceExternalIds(em, userId, wanted);
    } catch (err) {
      // The raw statement's error is PostgreSQL's (23505), not always converted by the ORM.
      if (err instanceof UniqueConstraintViolationException || (err as { code?: string }).code === '23505') throw inUse();
      throw err;
    }
  }

  /**
   * GET /_synapse/admin/v1/auth_providers/<provider>/users/<external_id>: the user the id is
   * mapped to; 404 "User not found" when none.
   */
  async userByExternalId(em: Em, authProvider: string, externalId: string): Promise<string> {
    const userId = await this.repo.userByExternalId(em, authProvider, externalId);
    if (!userId) throw notFound('User not found');
    return userId;
  }

  /** POST /_synapse/admin/v1/users/<user_id>/login: a puppet token, no device. */
  async loginAsUser(em: Em, requester: Requester, userId: string, validUntilMs: number | null): Promise<string> {
    if (!isValidUserId(userId)) throw badRequest(`Invalid user id: ${echo(userId)}`, Codes.INVALID_PARAM);
    if (domainOf(userId) !== this.serverName) throw badRequest('Only local users can be logged in as');
    if (requester.userId === userId) throw badRequest('Cannot use admin API to login as self');
    const user = await this.repo.findUser(em, userId);
    if (!user) throw notFound('User not found');
    const token = newAccessToken(localpartOf(userId));
    await this.repo.insertToken(em, token, userId, null, validUntilMs, requester.userId);
    return token;
  }
}

/**
 * Synapse's add_threepid checks: the medium is email or msisdn (400 M_INVALID_PARAM); an email is
 * trimmed, needs exactly one '@' (Synapse: a 500) and is lower-cased.
 */
function canonicalThreepid(t: { medium: string; address: string }): { medium: string; address: string } {
  if (!THREEPID_MEDIA.includes(t.medium)) throw badRequest(`'${echo(t.medium)}' is not a valid value for 'medium'`, Codes.INVALID_PARAM);
  if (t.medium !== 'email') return t;
  const parts = t.address.trim().split('@');
  if (parts.length !== 2) throw badRequest('Unable to parse email address', Codes.INVALID_PARAM);
  return { medium: t.medium, address: `${parts[0].toLowerCase()}@${parts[1].toLowerCase()}` };
}

function toView(u: UserFields, erased: boolean, threepids: Threepid[]): Omit<UserView, 'externalIds'> {
  return {
    name: u.name,
    displayname: u.displayname,
    admin: u.admin,
    deactivated: u.deactivated,
    isGuest: u.isGuest,
    creationTs: Number(u.creationTs),
    userType: u.userType,
    erased,
    avatarUrl: u.avatarUrl,
    lastSeenTs: u.lastSeenTs === null ? null : Number(u.lastSeenTs),
    locked: u.locked,
    suspended: u.suspended,
    shadowBanned: u.shadowBanned,
    threepids,
  };
}

import type { AccountDataService } from '../../users/account-data.service';
import type { UserAdminServiceServer } from '../../../gen/synapse/admin/v1/user_admin';
import type { UserOrderBy as UserOrderByMsg, Device, ListUsersRequest, UserSummary } from '../../../gen/synapse/admin/v1/user_admin_reads';
import { requesterOf } from '../../context';
import { USER_ORDER_BY, dirWord } from '../contract-words';
import type { DeviceAdminService } from '../../users/device-admin.service';
import type { UserOrderBy } from '../../users/user-list.repository';
import type { RestUsersQuery, UserListService } from '../../users/user-list.service';
import { Codes, MatrixError, badRequest, invalidParam } from '../../errors';
import { Body, parseJsonObject } from '../../matrix/json-body';
import { parseAsciiParam, parseIntParam } from '../../matrix/query-params';
import type { DeviceRow } from '../../users/user-reads.repository';
import type { UserSummaryRow } from '../../users/user-list.repository';
import { parseUserId, type UserReadsService } from '../../users/user-reads.service';
import type { CallAdapter } from '../adapter';

export interface UserAdminReadsDeps {
  list: UserListService;
  reads: UserReadsService;
  devices: DeviceAdminService;
  accountData: AccountDataService;
}

type ReadsServer = Pick<
  UserAdminServiceServer,
  | 'listUsers'
  | 'listJoinedRooms'
  | 'listMemberships'
  | 'countSentInvites'
  | 'countJoinedRooms'
  | 'whois'
  | 'checkUsernameAvailable'
  | 'listDevices'
  | 'getDevice'
  | 'updateDevice'
  | 'deleteDevices'
  | 'resetPassword'
>;

const orderByOf = (o: UserOrderByMsg): UserOrderBy | undefined => USER_ORDER_BY.word(o);

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

const toSummary = (u: UserSummaryRow): UserSummary => ({
  name: u.name,
  userType: opt(u.user_type),
  isGuest: u.is_guest,
  admin: u.admin,
  deactivated: u.deactivated,
  shadowBanned: u.shadow_banned,
  displayname: opt(u.displayname),
  avatarUrl: opt(u.avatar_url),
  creationTs: u.creation_ts,
  approved: u.approved,
  erased: u.erased,
  lastSeenTs: opt(u.last_seen_ts),
  locked: u.locked,
  suspended: u.suspended,
});

const toDevice = (d: DeviceRow): Device => ({
  deviceId: d.device_id,
  userId: d.user_id,
  displayName: opt(d.display_name),
  lastSeenIp: opt(d.last_seen_ip),
  lastSeenUserAgent: opt(d.last_seen_user_agent),
  lastSeenTs: opt(d.last_seen_ts),
});

/** The user admin RPCs that read users, their rooms and devices, and reset passwords. */
/** `from_ts`, typed or (`query_as_given`) from the query parameter as given: required. */
function fromTsOf(req: { fromTs: number; queryAsGiven?: boolean; fromTsParam?: string }): number {
  if (!req.queryAsGiven) return req.fromTs;
  if (req.fromTsParam === undefined) throw new MatrixError(400, 'Missing required integer query parameter from_ts', Codes.MISSING_PARAM);
  return parseIntParam('from_ts', req.fromTsParam);
}

/** The REST query as given, when the caller passed one on (see ListUsersRequest.rest_version). */
function restQuery(req: ListUsersRequest): RestUsersQuery | undefined {
  if (req.restVersion === undefined) return undefined;
  if (req.restVersion !== 'v2' && req.restVersion !== 'v3') throw badRequest('rest_version must be "v2" or "v3"', Codes.INVALID_PARAM);
  return {
    version: req.restVersion,
    from: req.fromParam,
    limit: req.limitParam,
    guests: req.guestsParam,
    deactivated: req.deactivatedParam,
    locked: req.lockedParam,
    admins: req.adminsParam,
    orderBy: req.orderByParam,
    dir: req.dirParam,
    suspended: req.suspendedParam,
  };
}

export function userAdminReadsHandler(a: CallAdapter, d: UserAdminReadsDeps): ReadsServer {
  return {
    listUsers: a.unary('admin', async (req, ctx) => {
      const input = {
        from: req.from,
        limit: req.limit,
        userId: req.userId,
        name: req.name,
        guests: req.guests,
        deactivated: req.deactivated,
        admins: req.admins,
        locked: req.locked,
        suspended: req.suspended,
        userTypes: req.userTypes,
        notUserTypes: req.notUserTypes,
        orderBy: orderByOf(req.orderBy),
        dir: dirWord(req.dir),
        rest: restQuery(req),
      };
      if (req.asJsonBody) {
        const page = await d.list.listUsersJson(ctx.em, input);
        return { users: [], total: page.total, nextToken: page.nextToken, jsonBody: Buffer.from(page.json) };
      }
      const page = await d.list.listUsers(ctx.em, input);
      return { users: page.users.map(toSummary), total: page.total, nextToken: page.nextToken, jsonBody: Buffer.alloc(0) };
    }),
    listJoinedRooms: a.unary('admin', async (req, ctx) => ({ joinedRooms: await d.reads.joinedRooms(ctx.em, req.userId) })),
    listMemberships: a.unary('admin', async (req, ctx) => ({ memberships: await d.reads.memberships(ctx.em, req.userId) })),
    countSentInvites: a.unary('admin', async (req, ctx) => ({
      inviteCount: await d.reads.sentInviteCount(ctx.em, req.userId, fromTsOf(req)),
    })),
    countJoinedRooms: a.unary('admin', async (req, ctx) => ({
      cumulativeJoinedRoomCount: await d.reads.cumulativeJoinedRoomCount(ctx.em, req.userId, fromTsOf(req)),
    })),
    whois: a.unary('user', async (req, ctx) => {
      const connections = await d.reads.whois(ctx.em, requesterOf(ctx), req.userId);
      return { userId: req.userId, connections: connections.map((c) => ({ ip: c.ip, lastSeen: c.last_seen, userAgent: c.user_agent })) };
    }),
    checkUsernameAvailable: a.unary('admin', async (req, ctx) => {
      let username = req.username;
      if (req.queryAsGiven) {
        if (req.usernameParam === undefined) throw new MatrixError(400, "Missing string query parameter 'username'", Codes.MISSING_PARAM);
        username = parseAsciiParam('username', req.usernameParam);
      }
      await d.reads.checkUsername(ctx.em, username);
      return { available: true };
    }),
    listDevices: a.unary('admin', async (req, ctx) => ({ devices: (await d.devices.listDevices(ctx.em, req.userId)).map(toDevice) })),
    getDevice: a.unary('admin', async (req, ctx) => ({ device: toDevice(await d.devices.getDevice(ctx.em, req.userId, req.deviceId)) })),
    updateDevice: a.unary('admin', async (req, ctx) => {
      await d.devices.updateDevice(ctx.em, req.userId, req.deviceId, req.bodyJson !== undefined ? { body: req.bodyJson } : req.displayName);
      return {};
    }),
    deleteDevices: a.unary('admin', async (req, ctx) => {
      await d.devices.deleteDevices(ctx.em, req.userId, req.bodyJson !== undefined ? { body: req.bodyJson } : req.deviceIds);
      return {};
    }),
    resetPassword: a.unary('admin', async (req, ctx) => {
      if (req.validateOnly) {
        parseUserId(req.userId);
        return {};
      }
      let newPassword = req.newPassword;
      let logoutDevices = req.logoutDevices;
      if (req.bodyJson !== undefined) {
        // Synapse parses the user id before it reads the body.
        parseUserId(req.userId);
        const b = new Body(parseJsonObject(req.bodyJson, false));
        b.require('new_password');
        // Synapse hashes whatever it is given (a non-string is a 500 there).
        if (typeof b.json.new_password !== 'string') throw invalidParam('Invalid password');
        newPassword = b.json.new_password;
        logoutDevices = b.bool('logout_devices', "'logout_devices' parameter is not of type boolean");
      }
      await d.devices.resetPassword(ctx.em, requesterOf(ctx), req.userId, newPassword, logoutDevices ?? true);
      return {};
    }),
  };
}

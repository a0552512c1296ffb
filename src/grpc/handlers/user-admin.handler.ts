import type { UpsertUserRequest, User, UserAdminServiceServer } from '../../../gen/synapse/admin/v1/user_admin';
import { requesterOf, type Ctx } from '../../context';
import type { UpsertUserInput, UserService, UserView } from '../../users/user.service';
import { deactivateBody, loginAsUserBody, upsertUserBody } from '../../users/user-admin.bodies';
import type { ProfileService } from '../../users/profile.service';
import type { CallAdapter } from '../adapter';
import { userAdminReadsHandler, type UserAdminReadsDeps } from './user-admin-reads.handler';

const toUser = (u: UserView): User => ({
  name: u.name,
  displayname: u.displayname ?? undefined,
  admin: u.admin,
  deactivated: u.deactivated,
  isGuest: u.isGuest,
  creationTs: u.creationTs,
  userType: u.userType ?? undefined,
  erased: u.erased,
  avatarUrl: u.avatarUrl ?? undefined,
  lastSeenTs: u.lastSeenTs ?? undefined,
  locked: u.locked,
  suspended: u.suspended,
  shadowBanned: u.shadowBanned,
  threepids: u.threepids,
  externalIds: u.externalIds,
});

/** Leaves the user's rooms (the rooms domain's partUser). */
export type PartUser = (em: Ctx['em'], userId: string) => Promise<string[]>;

/** The typed fields of an UpsertUserRequest as domain input ("" clears the user type). */
const upsertInputOf = (req: UpsertUserRequest): UpsertUserInput => ({
  userId: req.userId,
  password: req.password,
  admin: req.admin,
  deactivated: req.deactivated,
  displayname: req.displayname,
  avatarUrl: req.avatarUrl,
  logoutDevices: req.logoutDevices,
  locked: req.locked,
  userType: req.userType === undefined ? undefined : req.userType || null,
  threepids: req.threepids?.threepids,
  externalIds: req.externalIds?.externalIds,
});

export function userAdminHandler(
  a: CallAdapter,
  users: UserService,
  profiles: ProfileService,
  partUser: PartUser,
  reads: UserAdminReadsDeps,
): UserAdminServiceServer {
  /**
   * An UpsertUserRequest's `body_json`, read as Synapse reads the body; the values read are bounded
   * as the typed fields they stand for are.
   */
  const upsertInputOfBody = (userId: string, raw: Uint8Array): UpsertUserInput => {
    const body = upsertUserBody(raw);
    a.checkRequest('/synapse.admin.v1.UserAdminService/UpsertUser', {
      ...body,
      userId,
      userType: body.userType === null ? '' : body.userType,
      threepids: body.threepids && { threepids: body.threepids },
      externalIds: body.externalIds && { externalIds: body.externalIds },
    });
    return { userId, ...body };
  };
  return {
    ...userAdminReadsHandler(a, reads),
    upsertUser: a.unary('admin', async (req, ctx) => {
      const input = req.bodyJson !== undefined ? upsertInputOfBody(req.userId, req.bodyJson) : upsertInputOf(req);
      const { user, created, deactivated } = await users.upsertUser(ctx.em, input, async (change) => {
        // Synapse's order: the display name, then the avatar, each written into the rooms.
        if (change.displayname !== undefined) await profiles.setDisplayname(ctx.em, req.userId, change.displayname);
        if (change.avatarUrl !== undefined) await profiles.setAvatarUrl(ctx.em, req.userId, change.avatarUrl);
      });
      // As with DeactivateUser, a deactivated user leaves their rooms.
      if (deactivated) await partUser(ctx.em, req.userId);
      return { user: toUser(user), created };
    }),
    getUser: a.unary('admin', async (req, ctx) => ({ user: toUser(await users.getUser(ctx.em, req.userId)) })),
    suspendUser: a.unary('admin', async (req, ctx) => ({
      suspended: await users.setSuspended(ctx.em, req.userId, req.bodyJson !== undefined ? { body: req.bodyJson } : req.suspend),
    })),
    setShadowBan: a.unary('admin', async (req, ctx) => {
      await users.setShadowBanned(ctx.em, req.userId, req.shadowBanned);
      return {};
    }),
    getUserAccountData: a.unary('admin', async (req, ctx) => {
      users.checkLocalId(req.userId, 'Can only look up local users');
      // One statement checks the user and renders the body.
      return { accountDataJson: await reads.accountData.readAll(ctx.em, req.userId) };
    }),
    getUserByExternalId: a.unary('admin', async (req, ctx) => ({
      userId: await users.userByExternalId(ctx.em, req.authProvider, req.externalId),
    })),
    loginAsUser: a.unary('admin', async (req, ctx) => {
      const validUntilMs = req.bodyJson !== undefined ? loginAsUserBody(req.bodyJson) : req.validUntilMs;
      return { accessToken: await users.loginAsUser(ctx.em, requesterOf(ctx), req.userId, validUntilMs ?? null) };
    }),
    deactivateUser: a.unary('admin', async (req, ctx) => {
      if (req.validateOnly) {
        // Synapse checks the user (valid, local, known) before it reads the body.
        await users.checkDeactivatable(ctx.em, req.userId);
        if (req.bodyJson !== undefined) deactivateBody(req.bodyJson);
        return { idServerUnbindResult: '', partedRoomIds: [] };
      }
      // The account first (the user can no longer act), then the rooms: an interrupted call is
      // finished by repeating it. A body as received is read after the user is checked.
      const erased = await users.deactivate(ctx.em, req.userId, req.bodyJson !== undefined ? { body: req.bodyJson } : (req.erase ?? false));
      // Erasure clears the profile in the rooms first, so each leave replaces a join without it.
      if (erased) await profiles.erase(ctx.em, req.userId);
      return { idServerUnbindResult: 'success', partedRoomIds: await partUser(ctx.em, req.userId) };
    }),
  };
}

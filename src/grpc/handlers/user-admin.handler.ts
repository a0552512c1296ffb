import type { User, UserAdminServiceServer } from '../../../gen/synapse/admin/v1/user_admin';
import { requesterOf, type Ctx } from '../../context';
import type { UserService, UserView } from '../../users/user.service';
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

export function userAdminHandler(
  a: CallAdapter,
  users: UserService,
  profiles: ProfileService,
  partUser: PartUser,
  reads: UserAdminReadsDeps,
): UserAdminServiceServer {
  return {
    ...userAdminReadsHandler(a, reads),
    upsertUser: a.unary('admin', async (req, ctx) => {
      const input = {
        ...req,
        userType: req.userType === undefined ? undefined : req.userType || null,
        threepids: req.threepids?.threepids,
        externalIds: req.externalIds?.externalIds,
      };
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
    suspendUser: a.unary('admin', async (req, ctx) => ({ suspended: await users.setSuspended(ctx.em, req.userId, req.suspend) })),
    setShadowBan: a.unary('admin', async (req, ctx) => {
      await users.setShadowBanned(ctx.em, req.userId, req.shadowBanned);
      return {};
    }),
    getUserAccountData: a.unary('admin', async (req, ctx) => {
      // Read beside the user check (an unknown user has none); the check's answer comes first.
      const body = reads.accountData.readAll(ctx.em, req.userId);
      body.catch(() => undefined);
      await users.checkLocal(ctx.em, req.userId, 'Can only look up local users');
      return { accountDataJson: await body };
    }),
    getUserByExternalId: a.unary('admin', async (req, ctx) => ({
      userId: await users.userByExternalId(ctx.em, req.authProvider, req.externalId),
    })),
    loginAsUser: a.unary('admin', async (req, ctx) => ({
      accessToken: await users.loginAsUser(ctx.em, requesterOf(ctx), req.userId, req.validUntilMs ?? null),
    })),
    deactivateUser: a.unary('admin', async (req, ctx) => {
      if (req.validateOnly) {
        await users.checkDeactivatable(ctx.em, req.userId);
        return { idServerUnbindResult: '', partedRoomIds: [] };
      }
      // The account first (the user can no longer act), then the rooms: an interrupted call is
      // finished by repeating it.
      await users.deactivate(ctx.em, req.userId, req.erase ?? false);
      // Erasure clears the profile in the rooms first, so each leave replaces a join without it.
      if (req.erase) await profiles.erase(ctx.em, req.userId);
      return { idServerUnbindResult: 'success', partedRoomIds: await partUser(ctx.em, req.userId) };
    }),
  };
}

import type { User, UserAdminServiceServer } from '../../../gen/synapse/admin/v1/user_admin';
import { requesterOf } from '../../context';
import type { UserService, UserView } from '../../users/user.service';
import type { CallAdapter } from '../adapter';

const toUser = (u: UserView): User => ({
  name: u.name,
  displayname: u.displayname ?? undefined,
  admin: u.admin,
  deactivated: u.deactivated,
  isGuest: u.isGuest,
  creationTs: u.creationTs,
  userType: u.userType ?? undefined,
});

export function userAdminHandler(a: CallAdapter, users: UserService): UserAdminServiceServer {
  return {
    upsertUser: a.unary('admin', async (req, ctx) => {
      const { user, created } = await users.upsertUser(ctx.em, req);
      return { user: toUser(user), created };
    }),
    getUser: a.unary('admin', async (req, ctx) => ({ user: toUser(await users.getUser(ctx.em, req.userId)) })),
    loginAsUser: a.unary('admin', async (req, ctx) => ({
      accessToken: await users.loginAsUser(ctx.em, requesterOf(ctx), req.userId, req.validUntilMs ?? null),
    })),
  };
}

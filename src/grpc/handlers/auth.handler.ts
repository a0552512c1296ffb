import type { AuthServiceServer } from '../../../gen/synapse/admin/v1/auth';
import { requesterOf } from '../../context';
import { forbidden } from '../../errors';
import type { UserService } from '../../users/user.service';
import type { CallAdapter } from '../adapter';

export function authHandler(a: CallAdapter, users: UserService): AuthServiceServer {
  return {
    getRegistrationNonce: a.unary('none', async (_req, ctx) => ({ nonce: await users.newRegistrationNonce(ctx.em) })),
    registerWithSharedSecret: a.unary('none', async (req, ctx) => {
      const s = await users.registerWithSharedSecret(ctx.em, {
        ...req,
        userType: req.userType ?? null,
        displayname: req.displayname ?? null,
      });
      return { userId: s.userId, accessToken: s.accessToken, homeServer: s.homeServer, deviceId: s.deviceId };
    }),
    getLoginFlows: a.unary('none', async () => ({ flowTypes: ['m.login.password'] })),
    login: a.unary('none', async (req, ctx) => {
      const s = await users.login(ctx.em, req.type, req.user, req.password, req.deviceId ?? null, req.initialDeviceDisplayName ?? null);
      return { userId: s.userId, accessToken: s.accessToken, homeServer: s.homeServer, deviceId: s.deviceId };
    }),
    whoAmI: a.unary('user', async (_req, ctx) => {
      const r = requesterOf(ctx);
      return { userId: r.userId, deviceId: r.deviceId ?? undefined, isGuest: r.isGuest };
    }),
    logout: a.unary('session', async (_req, ctx) => {
      await users.logout(ctx.em, requesterOf(ctx));
      return {};
    }),
    checkAccess: a.unary('user', async (req, ctx) => {
      const r = requesterOf(ctx);
      if (req.requireAdmin && !r.isAdmin) throw forbidden('You are not a server admin');
      return { userId: r.userId, admin: r.isAdmin };
    }),
  };
}

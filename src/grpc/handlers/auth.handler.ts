import type { AuthServiceServer } from '../../../gen/synapse/admin/v1/auth';
import { requesterOf } from '../../context';
import { forbidden } from '../../errors';
import type { UserService } from '../../users/user.service';
import { loginBody, registerBody } from '../../users/auth.bodies';
import type { CallAdapter } from '../adapter';

export function authHandler(a: CallAdapter, users: UserService): AuthServiceServer {
  /** Values read from a `body_json` field, bounded as the typed fields of the request they stand for. */
  const checked = <T>(method: string, values: T): T => a.checkRequest(`/synapse.admin.v1.AuthService/${method}`, values);
  return {
    getRegistrationNonce: a.unary('none', async (_req, ctx) => ({ nonce: await users.newRegistrationNonce(ctx.em) })),
    registerWithSharedSecret: a.unary('none', async (req, ctx) => {
      const given = req.bodyJson !== undefined ? checked('RegisterWithSharedSecret', registerBody(req.bodyJson)) : req;
      const s = await users.registerWithSharedSecret(ctx.em, {
        ...given,
        userType: given.userType ?? null,
        displayname: given.displayname ?? null,
      });
      return { userId: s.userId, accessToken: s.accessToken, homeServer: s.homeServer, deviceId: s.deviceId };
    }),
    getLoginFlows: a.unary('none', async () => ({ flowTypes: ['m.login.password'] })),
    login: a.unary('none', async (req, ctx) => {
      const l = req.bodyJson !== undefined ? checked('Login', loginBody(req.bodyJson)) : req;
      const s = await users.login(ctx.em, l.type, l.user, l.password, l.deviceId ?? null, l.initialDeviceDisplayName ?? null);
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

import type { User } from '../../../gen/synapse/admin/v1/user_admin';
import { RawJson, type Route } from '../router';
import { clientPaths } from './auth.routes';

/**
 * Synapse's user admin JSON, every key it returns (with `suspended`, which Synapse added in 1.121).
 * Application services, consent tracking and external auth providers do not exist here, so their
 * keys hold what Synapse answers for a user without them (with consent disabled). Admin clients
 * diff this record against their form (Ketesa suspends or erases when a key it edits is missing),
 * so every key Synapse returns must be present.
 */
export function userJson(u: User | undefined): Record<string, unknown> {
  if (!u) return {};
  return {
    name: u.name,
    admin: u.admin,
    deactivated: u.deactivated,
    locked: u.locked,
    suspended: u.suspended,
    shadow_banned: u.shadowBanned,
    creation_ts: u.creationTs,
    appservice_id: null,
    consent_server_notice_sent: null,
    consent_version: null,
    consent_ts: null,
    user_type: u.userType ?? null,
    is_guest: u.isGuest,
    displayname: u.displayname ?? null,
    avatar_url: u.avatarUrl ?? null,
    threepids: u.threepids.map((t) => ({ medium: t.medium, address: t.address, validated_at: t.validatedAt, added_at: t.addedAt })),
    external_ids: u.externalIds.map((e) => ({ auth_provider: e.authProvider, external_id: e.externalId })),
    erased: u.erased,
    last_seen_ts: u.lastSeenTs ?? null,
  };
}

/** Account data, global and per room: the body goes to the service as received (it checks ownership before the body). */
const accountDataRoutes: Route[] = [
  ...clientPaths('/user/{userId}/account_data/{type}', {
    method: 'PUT',
    auth: 'user',
    handler: async (r) => {
      await r.rpc(r.clients.accountData, 'setAccountData', {
        userId: r.params.userId,
        type: r.params.type,
        contentJson: r.rawBody.toString('utf8'),
      });
      return { body: {} };
    },
  }),
  ...clientPaths('/user/{userId}/account_data/{type}', {
    method: 'GET',
    auth: 'user',
    handler: async (r) => ({
      body: new RawJson(
        (await r.rpc(r.clients.accountData, 'getAccountData', { userId: r.params.userId, type: r.params.type })).contentJson,
      ),
    }),
  }),
  ...clientPaths('/user/{userId}/rooms/{roomId}/account_data/{type}', {
    method: 'PUT',
    auth: 'user',
    handler: async (r) => {
      const { userId, roomId, type } = r.params;
      await r.rpc(r.clients.accountData, 'setRoomAccountData', { userId, roomId, type, contentJson: r.rawBody.toString('utf8') });
      return { body: {} };
    },
  }),
  ...clientPaths('/user/{userId}/rooms/{roomId}/account_data/{type}', {
    method: 'GET',
    auth: 'user',
    handler: async (r) => ({
      body: new RawJson(
        (
          await r.rpc(r.clients.accountData, 'getRoomAccountData', {
            userId: r.params.userId,
            roomId: r.params.roomId,
            type: r.params.type,
          })
        ).contentJson,
      ),
    }),
  }),
];

export const userRoutes: Route[] = [
  ...accountDataRoutes,
  {
    method: 'PUT',
    path: '/_synapse/admin/v2/users/{userId}',
    auth: 'admin',
    handler: async (r) => {
      // The body passed on as received: the service reads it after authentication, in Synapse's order.
      const res = await r.rpc(r.clients.userAdmin, 'upsertUser', { userId: r.params.userId, bodyJson: r.rawBody });
      return { status: res.created ? 201 : 200, body: userJson(res.user) };
    },
  },
  {
    method: 'GET',
    path: '/_synapse/admin/v2/users/{userId}',
    auth: 'admin',
    handler: async (r) => ({ body: userJson((await r.rpc(r.clients.userAdmin, 'getUser', { userId: r.params.userId })).user) }),
  },
  {
    method: 'POST',
    path: '/_synapse/admin/v1/deactivate/{userId}',
    auth: 'admin',
    handler: async (r) => {
      // The body passed on as received: the service checks the user (valid, local, known), then reads it.
      const res = await r.rpc(r.clients.userAdmin, 'deactivateUser', { userId: r.params.userId, bodyJson: r.rawBody });
      return { body: { id_server_unbind_result: res.idServerUnbindResult } };
    },
  },
  {
    method: 'PUT',
    path: '/_synapse/admin/v1/suspend/{userId}',
    auth: 'admin',
    handler: async (r) => {
      // The body passed on as received: the service checks the user (valid, local, known), then reads it.
      const res = await r.rpc(r.clients.userAdmin, 'suspendUser', { userId: r.params.userId, bodyJson: r.rawBody });
      return { body: { [`user_${r.params.userId}_suspended`]: res.suspended } };
    },
  },
  {
    method: 'POST',
    path: '/_synapse/admin/v1/users/{userId}/shadow_ban',
    auth: 'admin',
    handler: async (r) => {
      await r.rpc(r.clients.userAdmin, 'setShadowBan', { userId: r.params.userId, shadowBanned: true });
      return { body: {} };
    },
  },
  {
    method: 'DELETE',
    path: '/_synapse/admin/v1/users/{userId}/shadow_ban',
    auth: 'admin',
    handler: async (r) => {
      await r.rpc(r.clients.userAdmin, 'setShadowBan', { userId: r.params.userId, shadowBanned: false });
      return { body: {} };
    },
  },
  {
    method: 'GET',
    path: '/_synapse/admin/v1/users/{userId}/accountdata',
    auth: 'admin',
    handler: async (r) => ({
      body: new RawJson((await r.rpc(r.clients.userAdmin, 'getUserAccountData', { userId: r.params.userId })).accountDataJson),
    }),
  },
  {
    method: 'GET',
    path: '/_synapse/admin/v1/auth_providers/{provider}/users/{externalId}',
    auth: 'admin',
    handler: async (r) => {
      const res = await r.rpc(r.clients.userAdmin, 'getUserByExternalId', {
        authProvider: r.params.provider,
        externalId: r.params.externalId,
      });
      return { body: { user_id: res.userId } };
    },
  },
  {
    method: 'POST',
    path: '/_synapse/admin/v1/users/{userId}/login',
    auth: 'admin',
    handler: async (r) => {
      // The body passed on as received: the service reads it after authentication.
      const res = await r.rpc(r.clients.userAdmin, 'loginAsUser', { userId: r.params.userId, bodyJson: r.rawBody });
      return { body: { access_token: res.accessToken } };
    },
  },
];

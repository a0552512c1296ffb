import type { User } from '../../../gen/synapse/admin/v1/user_admin';
import { badJson, badRequest, invalidParam, missingParams } from '../../errors';
import { RawJson, type Body, type Route } from '../router';
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

/**
 * `threepids`: absent or null leaves them; otherwise a list of objects each with `medium` and
 * `address` (Synapse's "Missing params"). Not a list, an item not an object (Synapse: a 500) or a
 * value not a string is 400 M_BAD_JSON.
 */
function threepids(b: Body): { threepids: { medium: string; address: string }[] } | undefined {
  const v = b.json.threepids;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw badJson("'threepids' must be a list");
  return {
    threepids: v.map((t: unknown) => {
      if (typeof t !== 'object' || t === null || Array.isArray(t)) throw badJson("'threepids' must be a list of objects");
      const missing = ['medium', 'address'].filter((k) => !(k in t));
      if (missing.length > 0) throw missingParams(missing);
      const { medium, address } = t as Record<string, unknown>;
      if (typeof medium !== 'string' || typeof address !== 'string') throw badJson("A threepid's 'medium' and 'address' must be strings");
      return { medium, address };
    }),
  };
}

/**
 * `external_ids`: absent or null leaves them; otherwise a list of objects each with
 * `auth_provider` and `external_id` (Synapse's "Missing params"). Not a list, an item not an
 * object (Synapse: a 500) or a value not a string is 400 M_BAD_JSON.
 */
function externalIds(b: Body): { externalIds: { authProvider: string; externalId: string }[] } | undefined {
  const v = b.json.external_ids;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw badJson("'external_ids' must be a list");
  return {
    externalIds: v.map((e: unknown) => {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw badJson("'external_ids' must be a list of objects");
      const missing = ['auth_provider', 'external_id'].filter((k) => !(k in e));
      if (missing.length > 0) throw missingParams(missing);
      const { auth_provider: authProvider, external_id: externalId } = e as Record<string, unknown>;
      if (typeof authProvider !== 'string' || typeof externalId !== 'string')
        throw badJson("An external id's 'auth_provider' and 'external_id' must be strings");
      return { authProvider, externalId };
    }),
  };
}

/** `user_type`: absent leaves it, null clears it (sent as ""); not one of Synapse's types is "Invalid user type". */
function userType(b: Body): string | undefined {
  if (!('user_type' in b.json)) return undefined;
  const v = b.json.user_type;
  if (v === null) return '';
  if (typeof v !== 'string' || v === '') throw badRequest('Invalid user type');
  return v;
}

/** Synapse's set_avatar_url type check (it runs when the field is applied). */
function avatarUrl(b: Body): string | undefined {
  const v = b.json.avatar_url;
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidParam("'avatar_url' must be a string");
  return v;
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
      const b = r.body();
      // Synapse's order: threepids, external ids, user type, then the flags.
      const threepidList = threepids(b);
      const externalIdList = externalIds(b);
      const type = userType(b);
      const res = await r.rpc(r.clients.userAdmin, 'upsertUser', {
        userId: r.params.userId,
        threepids: threepidList,
        externalIds: externalIdList,
        userType: type,
        password: b.string('password', 'Invalid password'),
        admin: b.bool('admin', "'admin' parameter is not of type boolean"),
        deactivated: b.bool('deactivated', "'deactivated' parameter is not of type boolean"),
        displayname: b.string('displayname', 'Invalid displayname'),
        avatarUrl: avatarUrl(b),
        logoutDevices: b.bool('logout_devices', "'logout_devices' parameter is not of type boolean"),
        locked: b.bool('locked', "'locked' parameter is not of type boolean"),
      });
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
      let erase: boolean;
      try {
        erase = r.body(true).bool('erase') ?? false;
      } catch (err) {
        // Synapse checks the user (valid, local, known) before it reads the body.
        await r.rpc(r.clients.userAdmin, 'deactivateUser', { userId: r.params.userId, validateOnly: true });
        throw err;
      }
      const res = await r.rpc(r.clients.userAdmin, 'deactivateUser', { userId: r.params.userId, erase });
      return { body: { id_server_unbind_result: res.idServerUnbindResult } };
    },
  },
  {
    method: 'PUT',
    path: '/_synapse/admin/v1/suspend/{userId}',
    auth: 'admin',
    handler: async (r) => {
      // Synapse checks the user (local, known) before it reads the body.
      await r.rpc(r.clients.userAdmin, 'suspendUser', { userId: r.params.userId });
      const b = r.body();
      if (!('suspend' in b.json)) throw missingParams(['suspend']);
      const suspend = b.bool('suspend', "'suspend' must be a boolean");
      const res = await r.rpc(r.clients.userAdmin, 'suspendUser', { userId: r.params.userId, suspend });
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
      const b = r.body(true);
      const res = await r.rpc(r.clients.userAdmin, 'loginAsUser', {
        userId: r.params.userId,
        validUntilMs: b.int('valid_until_ms', "'valid_until_ms' parameter must be an int"),
      });
      return { body: { access_token: res.accessToken } };
    },
  },
];

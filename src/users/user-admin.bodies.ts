/**
 * The JSON bodies of the user admin REST endpoints (`PUT /_synapse/admin/v2/users/<user_id>`,
 * `POST /_synapse/admin/v1/deactivate/<user_id>`, `PUT /_synapse/admin/v1/suspend/<user_id>`,
 * `POST /_synapse/admin/v1/users/<user_id>/login`), read as Synapse reads them: the body is parsed
 * first, then each parameter in Synapse's order, each refused with Synapse's error. The RPCs that
 * carry a `body_json` field read it with these after authentication.
 */
import { badJson, badRequest, invalidParam, missingParams } from '../errors';
import { Body, parseJsonObject } from '../matrix/json-body';
import type { ExternalId } from './user.repository';
import type { UpsertUserInput } from './user.service';

/**
 * `threepids`: absent or null leaves them; otherwise a list of objects each with `medium` and
 * `address` (Synapse's "Missing params"). Not a list, an item not an object (Synapse: a 500) or a
 * value not a string is 400 M_BAD_JSON.
 */
function threepids(b: Body): { medium: string; address: string }[] | undefined {
  const v = b.json.threepids;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw badJson("'threepids' must be a list");
  return v.map((t: unknown) => {
    if (typeof t !== 'object' || t === null || Array.isArray(t)) throw badJson("'threepids' must be a list of objects");
    const missing = ['medium', 'address'].filter((k) => !(k in t));
    if (missing.length > 0) throw missingParams(missing);
    const { medium, address } = t as Record<string, unknown>;
    if (typeof medium !== 'string' || typeof address !== 'string') throw badJson("A threepid's 'medium' and 'address' must be strings");
    return { medium, address };
  });
}

/**
 * `external_ids`: absent or null leaves them; otherwise a list of objects each with
 * `auth_provider` and `external_id` (Synapse's "Missing params"). Not a list, an item not an
 * object (Synapse: a 500) or a value not a string is 400 M_BAD_JSON.
 */
function externalIds(b: Body): ExternalId[] | undefined {
  const v = b.json.external_ids;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw badJson("'external_ids' must be a list");
  return v.map((e: unknown) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw badJson("'external_ids' must be a list of objects");
    const missing = ['auth_provider', 'external_id'].filter((k) => !(k in e));
    if (missing.length > 0) throw missingParams(missing);
    const { auth_provider: authProvider, external_id: externalId } = e as Record<string, unknown>;
    if (typeof authProvider !== 'string' || typeof externalId !== 'string')
      throw badJson("An external id's 'auth_provider' and 'external_id' must be strings");
    return { authProvider, externalId };
  });
}

/** `user_type`: absent leaves it, null clears it; not one of Synapse's types is "Invalid user type". */
function userType(b: Body): string | null | undefined {
  if (!('user_type' in b.json)) return undefined;
  const v = b.json.user_type;
  if (v === null) return null;
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

/** PUT /_synapse/admin/v2/users/<user_id>: threepids, external ids, user type, then the flags. */
export function upsertUserBody(raw: Uint8Array): Omit<UpsertUserInput, 'userId'> {
  const b = new Body(parseJsonObject(raw, false));
  const threepidList = threepids(b);
  const externalIdList = externalIds(b);
  const type = userType(b);
  return {
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
  };
}

/** POST /_synapse/admin/v1/deactivate/<user_id>: an optional boolean `erase`; an empty body counts as {}. */
export function deactivateBody(raw: Uint8Array): boolean {
  return new Body(parseJsonObject(raw, true)).bool('erase') ?? false;
}

/** PUT /_synapse/admin/v1/suspend/<user_id>: `suspend` is required and must be a boolean. */
export function suspendBody(raw: Uint8Array): boolean {
  const b = new Body(parseJsonObject(raw, false));
  b.require('suspend');
  // Present, so bool() returns a boolean or refuses the value (null included).
  return b.bool('suspend', "'suspend' must be a boolean") as boolean;
}

/** POST /_synapse/admin/v1/users/<user_id>/login: an optional integer `valid_until_ms`; an empty body counts as {}. */
export function loginAsUserBody(raw: Uint8Array): number | undefined {
  return new Body(parseJsonObject(raw, true)).int('valid_until_ms', "'valid_until_ms' parameter must be an int");
}

/**
 * The JSON bodies of shared-secret registration and password login, read as Synapse reads them.
 * The RPCs that carry a `body_json` field read them with these (neither needs a credential).
 */
import { Codes, badRequest } from '../errors';
import { Body, parseJsonObject } from '../matrix/json-body';

export interface RegisterBody {
  nonce: string;
  username: string;
  password: string;
  admin: boolean;
  userType: string | undefined;
  displayname: string | undefined;
  mac: string;
}

/** POST /_synapse/admin/v1/register: the types first, with Synapse's messages; the values are checked by the registration. */
export function registerBody(raw: Uint8Array): RegisterBody {
  const b = new Body(parseJsonObject(raw, false));
  const j = b.json;
  if (j.username !== undefined && typeof j.username !== 'string') throw badRequest('Invalid username');
  if (j.password !== undefined && typeof j.password !== 'string') throw badRequest('Invalid password');
  if (j.user_type !== undefined && j.user_type !== null && typeof j.user_type !== 'string') throw badRequest('Invalid user type');
  return {
    nonce: b.string('nonce', 'nonce must be specified') ?? '',
    username: (j.username as string | undefined) ?? '',
    password: (j.password as string | undefined) ?? '',
    admin: b.truthy('admin'),
    userType: (j.user_type as string | null | undefined) ?? undefined,
    displayname: b.string('displayname') ?? undefined,
    mac: b.string('mac', 'mac must be specified') ?? '',
  };
}

export interface LoginBody {
  type: string;
  user: string;
  password: string;
  deviceId: string | undefined;
  initialDeviceDisplayName: string | undefined;
}

/** POST /login: the user from `identifier` (only `m.id.user`) or the legacy `user`. */
export function loginBody(raw: Uint8Array): LoginBody {
  const b = new Body(parseJsonObject(raw, false));
  const type = b.string('type') ?? '';
  const identifier = b.object('identifier');
  let user: string | undefined;
  if (identifier) {
    if (identifier.type !== 'm.id.user') throw badRequest('Unknown login identifier type', Codes.UNKNOWN);
    if (typeof identifier.user !== 'string') throw badRequest("User identifier is missing 'user' key", Codes.INVALID_PARAM);
    user = identifier.user;
  } else user = b.string('user');
  if (user === undefined) throw badRequest('Invalid login submission', Codes.INVALID_PARAM);
  return {
    type,
    user,
    password: b.string('password') ?? '',
    deviceId: b.string('device_id'),
    initialDeviceDisplayName: b.string('initial_device_display_name'),
  };
}

/**
 * The client profile API (spec §9): reads open without a credential as in Synapse's default
 * configuration; changes of the display name and avatar need one.
 */
import type { GatewayRequest, Route } from '../router';
import { clientPaths } from './auth.routes';

const whole = async (r: GatewayRequest) => {
  const p = await r.rpc(r.clients.profile, 'getProfile', { userId: r.params.userId });
  // Only the fields that are set (Synapse omits null fields since 1.122).
  const body: Record<string, string> = {};
  if (p.displayname !== undefined) body.displayname = p.displayname;
  if (p.avatarUrl !== undefined) body.avatar_url = p.avatarUrl;
  return { body };
};

const oneField = (field: 'displayname' | 'avatar_url') => async (r: GatewayRequest) => {
  const p = await r.rpc(r.clients.profile, 'getProfile', { userId: r.params.userId, field });
  return { body: { [field]: (field === 'displayname' ? p.displayname : p.avatarUrl) ?? null } };
};

/** PUT …/<field> `{"<field>": "<value>"}`: the body passed on as received, checked by the service. */
const setField = (field: 'displayname' | 'avatar_url') => async (r: GatewayRequest) => {
  await r.rpc(r.clients.profile, 'setProfileField', { userId: r.params.userId, field, value: '', bodyJson: r.rawBody });
  return { body: {} };
};

export const profileRoutes: Route[] = [
  ...clientPaths('/profile/{userId}', { method: 'GET', auth: 'none', handler: whole }),
  ...clientPaths('/profile/{userId}/displayname', { method: 'GET', auth: 'none', handler: oneField('displayname') }),
  ...clientPaths('/profile/{userId}/avatar_url', { method: 'GET', auth: 'none', handler: oneField('avatar_url') }),
  ...clientPaths('/profile/{userId}/displayname', { method: 'PUT', auth: 'user', handler: setField('displayname') }),
  ...clientPaths('/profile/{userId}/avatar_url', { method: 'PUT', auth: 'user', handler: setField('avatar_url') }),
];

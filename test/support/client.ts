/**
 * The Matrix client calls the end-to-end tests make through the gateway, asserting each succeeds.
 */
import { strict as assert } from 'node:assert';
import { http, type HttpResult, type Stack } from './stack';

export const C = '/_matrix/client/v3';
export const enc = encodeURIComponent;

export { waitFor } from './until';

/** Awaits a call and asserts it answered 200. */
export async function ok(res: Promise<HttpResult>, what: string): Promise<HttpResult> {
  const r = await res;
  assert.equal(r.status, 200, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}

export async function sendState(
  s: Stack,
  token: string,
  roomId: string,
  type: string,
  content: Record<string, unknown>,
  stateKey = '',
): Promise<string> {
  return (
    await ok(http(s, 'PUT', `${C}/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, { token, body: content }), `state ${type}`)
  ).body.event_id;
}

export async function join(s: Stack, token: string, roomIdOrAlias: string): Promise<void> {
  await ok(http(s, 'POST', `${C}/join/${enc(roomIdOrAlias)}`, { token, body: {} }), 'join');
}

export async function leave(s: Stack, token: string, roomId: string): Promise<void> {
  await ok(http(s, 'POST', `${C}/rooms/${enc(roomId)}/leave`, { token, body: {} }), 'leave');
}

export async function forget(s: Stack, token: string, roomId: string): Promise<void> {
  await ok(http(s, 'POST', `${C}/rooms/${enc(roomId)}/forget`, { token, body: {} }), 'forget');
}

export async function invite(s: Stack, token: string, roomId: string, userId: string): Promise<void> {
  await ok(http(s, 'POST', `${C}/rooms/${enc(roomId)}/invite`, { token, body: { user_id: userId } }), 'invite');
}

export async function knock(s: Stack, token: string, roomIdOrAlias: string): Promise<void> {
  await ok(http(s, 'POST', `${C}/knock/${enc(roomIdOrAlias)}`, { token, body: {} }), 'knock');
}

export async function setAlias(s: Stack, token: string, alias: string, roomId: string): Promise<void> {
  await ok(http(s, 'PUT', `${C}/directory/room/${enc(alias)}`, { token, body: { room_id: roomId } }), 'alias');
}

export async function joinedRooms(s: Stack, token: string): Promise<string[]> {
  return (await ok(http(s, 'GET', `${C}/joined_rooms`, { token }), 'joined_rooms')).body.joined_rooms;
}

/**
 * Query strings that check the order of a route's parameter errors: every bad parameter at once
 * (written in reverse, so the order in the URL cannot decide), then without the first, and so on.
 * The i-th string's answer must be the i-th parameter's error.
 */
export function errorOrderQueries(badParams: readonly string[]): string[] {
  return badParams.map((_, i) => badParams.slice(i).reverse().join('&'));
}

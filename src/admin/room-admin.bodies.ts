/**
 * The JSON bodies of the room admin REST endpoints, read as Synapse reads them: the body is parsed
 * first, then each parameter in Synapse's order, each refused with Synapse's error. The RPCs that
 * carry a `body_json` field read it with these after authentication.
 */
import { badJson, invalidParam } from '../errors';
import { Body, parseJsonObject } from '../matrix/json-body';
import { isValidRoomId } from '../matrix/ids';
import { notLegalRoomId } from './room-admin.service';
import type { DeleteOptions } from './room-admin.types';

/** DELETE /_synapse/admin/v1 and v2/rooms/<room_id>: block, purge, force_purge, then the strings. */
export function deleteOptionsBody(text: Uint8Array): DeleteOptions {
  const b = new Body(parseJsonObject(text, false));
  const block = b.bool('block');
  const purge = b.bool('purge');
  const forcePurge = b.bool('force_purge');
  return {
    block,
    purge,
    forcePurge,
    newRoomUserId: b.string('new_room_user_id'),
    roomName: b.string('room_name'),
    message: b.string('message'),
  };
}

/** PUT /_synapse/admin/v1/rooms/<room_id>/block: the body, the room id, then `block` (required boolean). */
export function blockBody(roomId: string, text: Uint8Array): boolean {
  const b = new Body(parseJsonObject(text, false));
  if (!isValidRoomId(roomId)) throw notLegalRoomId(roomId);
  b.require('block');
  if (typeof b.json.block !== 'boolean') throw badJson("Param 'block' must be a boolean.");
  return b.json.block;
}

/** POST …/make_room_admin: an optional `user_id` string; an empty body counts as {}. */
export function makeRoomAdminBody(text: Uint8Array): string | undefined {
  return new Body(parseJsonObject(text, true)).string('user_id');
}

/** POST /_synapse/admin/v1/join/<room>: `user_id` is required and must be a string. */
export function joinBody(text: Uint8Array): string {
  const b = new Body(parseJsonObject(text, false));
  b.require('user_id');
  if (typeof b.json.user_id !== 'string') throw invalidParam("Expected UserID string to start with '@'");
  return b.json.user_id;
}

/** POST /_synapse/admin/v1/shutdown_room/<room_id> (v1.41): `new_room_user_id` required, then the strings. */
export function shutdownRoomBody(text: Uint8Array): { newRoomUserId: string; roomName: string | undefined; message: string | undefined } {
  const b = new Body(parseJsonObject(text, false));
  b.require('new_room_user_id');
  const newRoomUserId = b.string('new_room_user_id');
  if (newRoomUserId === undefined) throw badJson("Param 'new_room_user_id' must be a string");
  return { newRoomUserId, roomName: b.string('room_name'), message: b.string('message') };
}

/** POST /_synapse/admin/v1/purge_room (v1.41): `room_id` required, a string. */
export function purgeRoomBody(text: Uint8Array): string {
  const b = new Body(parseJsonObject(text, false));
  b.require('room_id');
  const roomId = b.string('room_id');
  if (roomId === undefined) throw badJson("Param 'room_id' must be a string");
  return roomId;
}

/**
 * Helpers for the room admin end-to-end tests: the Matrix client calls Synapse's tests make
 * (through the gateway), admin calls, polling, and row counts for "purged" checks.
 */
import { strict as assert } from 'node:assert';
import { PURGE_TABLES } from '../../src/admin/purge-tables';
import { http, type Stack } from '../support/stack';

import { C, enc, ok, waitFor } from '../support/client';

export { enc, waitFor };
export { sendState, join, leave, forget, invite, knock, setAlias, joinedRooms } from '../support/client';
let txn = 0;

/** Like Synapse's test helper create_room_as: a public room (published, public_chat) unless `isPublic` is false. */
export async function createRoom(s: Stack, token: string, body: Record<string, unknown> = {}, isPublic = true): Promise<string> {
  const full = isPublic ? { visibility: 'public', ...body } : { visibility: 'private', ...body };
  return (await ok(http(s, 'POST', `${C}/createRoom`, { token, body: full }), 'createRoom')).body.room_id;
}

export async function sendMessage(s: Stack, token: string, roomId: string, body = 'hello', type = 'm.room.message'): Promise<string> {
  txn += 1;
  const r = await ok(
    http(s, 'PUT', `${C}/rooms/${enc(roomId)}/send/${enc(type)}/t${txn}_${Date.now()}`, { token, body: { msgtype: 'm.text', body } }),
    'send',
  );
  return r.body.event_id;
}

/** Joined members of a room as the admin API reports them. */
export async function adminMembers(s: Stack, adminToken: string, roomId: string): Promise<string[]> {
  const r = await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(roomId)}/members`, { token: adminToken });
  return r.status === 200 ? r.body.members : [];
}

/** Polls a delete task until it is terminal; returns its status item. */
export async function waitForDelete(s: Stack, adminToken: string, deleteId: string): Promise<Record<string, any>> {
  const r = await waitFor(
    () => http(s, 'GET', `/_synapse/admin/v2/rooms/delete_status/${enc(deleteId)}`, { token: adminToken }),
    (x) => x.status !== 200 || ['complete', 'failed', 'cancelled'].includes(x.body.status),
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** Rows of the room left in every table a purge empties (all zero ⇔ purged). */
export async function roomRows(s: Stack, roomId: string): Promise<Record<string, number>> {
  const em = s.app.orm.em.fork();
  const out: Record<string, number> = {};
  for (const { table } of PURGE_TABLES) {
    const rows = await em.execute<{ n: string }[]>(`SELECT count(*) AS n FROM ${table} WHERE room_id = ?`, [roomId]);
    out[table] = Number(rows[0].n);
  }
  return out;
}

export async function assertPurged(s: Stack, roomId: string): Promise<void> {
  const rows = await roomRows(s, roomId);
  assert.deepEqual(
    Object.entries(rows).filter(([, n]) => n > 0),
    [],
    `room ${roomId} not purged`,
  );
}

export async function assertNotPurged(s: Stack, roomId: string): Promise<void> {
  const rows = await roomRows(s, roomId);
  assert.ok(rows.rooms === 1 && rows.events > 0, `room ${roomId} was purged`);
}

export async function isBlocked(s: Stack, adminToken: string, roomId: string): Promise<boolean> {
  const r = await http(s, 'GET', `/_synapse/admin/v1/rooms/${enc(roomId)}/block`, { token: adminToken });
  assert.equal(r.status, 200);
  return r.body.block;
}

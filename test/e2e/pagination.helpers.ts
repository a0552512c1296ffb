/**
 * Helpers for the pagination, purge and retention end-to-end tests: the Matrix client calls
 * Synapse's tests make (through the gateway), /messages and purge calls, and the event positions
 * Synapse's tests read from the store.
 */
import { strict as assert } from 'node:assert';
import { http, type HttpResult, type Stack } from '../support/stack';

import { C, enc, ok, waitFor } from '../support/client';

export { enc, waitFor };
export { sendState, join, leave, forget, invite, knock, setAlias, joinedRooms } from '../support/client';
let txn = 0;

export async function createRoom(s: Stack, token: string, body: Record<string, unknown> = {}): Promise<string> {
  return (await ok(http(s, 'POST', `${C}/createRoom`, { token, body }), 'createRoom')).body.room_id;
}

/** Sends an event (default: an m.text message with `body`); returns its id. */
export async function send(
  s: Stack,
  token: string,
  roomId: string,
  content: Record<string, unknown> | string,
  type = 'm.room.message',
): Promise<string> {
  txn += 1;
  const body = typeof content === 'string' ? { msgtype: 'm.text', body: content } : content;
  return (await ok(http(s, 'PUT', `${C}/rooms/${enc(roomId)}/send/${enc(type)}/p${txn}_${process.pid}`, { token, body }), `send ${type}`))
    .body.event_id;
}

/** `GET …/messages` with a query string built from `q` (values are URL-encoded). */
export function messages(
  s: Stack,
  token: string,
  roomId: string,
  q: Record<string, string | number | object> = {},
  admin = false,
): Promise<HttpResult> {
  const qs = Object.entries(q)
    .map(([k, v]) => `${k}=${enc(typeof v === 'object' ? JSON.stringify(v) : String(v))}`)
    .join('&');
  const base = admin ? `/_synapse/admin/v1/rooms/${enc(roomId)}/messages` : `${C}/rooms/${enc(roomId)}/messages`;
  return http(s, 'GET', qs ? `${base}?${qs}` : base, { token });
}

/** The historic token `t<depth>-<stream>` of an event (Synapse's get_topological_token_for_event). */
export async function eventToken(s: Stack, eventId: string): Promise<string> {
  const rows = await s.app.orm.em
    .fork()
    .getConnection()
    .execute<{ depth: string; stream_ordering: string }[]>('SELECT depth, stream_ordering FROM events WHERE event_id = ?', [eventId]);
  assert.equal(rows.length, 1, `event ${eventId} not found`);
  return `t${rows[0].depth}-${rows[0].stream_ordering}`;
}

/** Whether an event row still exists. */
export async function eventExists(s: Stack, eventId: string): Promise<boolean> {
  const rows = await s.app.orm.em.fork().getConnection().execute<unknown[]>('SELECT 1 FROM events WHERE event_id = ?', [eventId]);
  return rows.length > 0;
}

/** Starts a history purge; returns the response. */
export function purgeHistory(s: Stack, adminToken: string, roomId: string, body: unknown, eventId?: string): Promise<HttpResult> {
  const path = `/_synapse/admin/v1/purge_history/${enc(roomId)}${eventId === undefined ? '' : `/${enc(eventId)}`}`;
  return http(s, 'POST', path, { token: adminToken, body });
}

/** Polls a purge until it is no longer active; returns its status body. */
export async function waitForPurge(s: Stack, adminToken: string, purgeId: string): Promise<Record<string, unknown>> {
  const r = await waitFor(
    () => http(s, 'GET', `/_synapse/admin/v1/purge_history_status/${purgeId}`, { token: adminToken }),
    (x) => x.status !== 200 || x.body.status !== 'active',
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** Purges (and waits): asserts the purge completed. */
export async function purgeAndWait(s: Stack, adminToken: string, roomId: string, body: unknown, eventId?: string): Promise<void> {
  const r = await purgeHistory(s, adminToken, roomId, body, eventId);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(await waitForPurge(s, adminToken, r.body.purge_id), { status: 'complete' });
}

export const bodies = (r: HttpResult): unknown[] => r.body.chunk.map((e: { content: { body?: unknown } }) => e.content.body);
export const ids = (r: HttpResult): string[] => r.body.chunk.map((e: { event_id: string }) => e.event_id);

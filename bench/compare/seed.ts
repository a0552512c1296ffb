/**
 * Applies a workload plan to a server through the client and admin REST API only (the same calls
 * on every server), and records the ids each server assigned.
 */
import type { RestClient, Target } from './target';
import type { PlannedRoom, WorkloadPlan } from './workload';

export interface SeededUser {
  userId: string;
  token: string;
  /** The device its login created. */
  deviceId: string;
}

export interface SeededRoom {
  roomId: string;
  alias: string | null;
  /** Event ids of the planned messages, in plan order. */
  messageIds: string[];
}

export interface Seeded {
  users: SeededUser[];
  rooms: SeededRoom[];
  reportIds: number[];
}

export const USER_PASSWORD = 'cmp-user-password';

/** Runs `fn` over `items` with `concurrency` workers; results keep the items' order. */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

const enc = encodeURIComponent;
let txn = 0;
/** A transaction id unique within this process. */
export const txnId = () => `cmp${process.pid}-${++txn}`;

async function createUser(c: RestClient, t: Target, localpart: string, displayname: string): Promise<SeededUser> {
  const userId = `@${localpart}:${t.serverName}`;
  await c.json('PUT', `/_synapse/admin/v2/users/${enc(userId)}`, t.adminToken, { password: USER_PASSWORD, displayname, admin: false });
  const login = await c.json<{ access_token: string; device_id: string }>('POST', '/_matrix/client/v3/login', undefined, {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: localpart },
    password: USER_PASSWORD,
  });
  return { userId, token: login.access_token, deviceId: login.device_id };
}

/** Creates a room as its creator; ordinary settings only, as a client would. */
export async function createRoom(
  c: RestClient,
  creator: SeededUser,
  room: Pick<PlannedRoom, 'name' | 'topic' | 'alias' | 'preset' | 'directory'>,
): Promise<string> {
  const body: Record<string, unknown> = { name: room.name, preset: room.preset, visibility: room.directory ? 'public' : 'private' };
  if (room.topic) body.topic = room.topic;
  if (room.alias) body.room_alias_name = room.alias;
  return (await c.json<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', creator.token, body)).room_id;
}

export async function join(c: RestClient, roomId: string, creator: SeededUser, user: SeededUser, invite: boolean): Promise<void> {
  if (invite) await c.json('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, creator.token, { user_id: user.userId });
  await c.json('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/join`, user.token, {});
}

export async function send(c: RestClient, roomId: string, sender: SeededUser, msgtype: string, body: string): Promise<string> {
  return (
    await c.json<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${txnId()}`, sender.token, {
      msgtype,
      body,
    })
  ).event_id;
}

/**
 * Seeds `plan` on `t` with `concurrency` rooms built at once (each room's own steps in order, so
 * every room's timeline is the same on every server);
 * `progress` is told after each room.
 */
export async function seed(
  c: RestClient,
  t: Target,
  plan: WorkloadPlan,
  concurrency: number,
  progress: (done: number, total: number) => void,
): Promise<Seeded> {
  const users = await pool(plan.users, concurrency, (u) => createUser(c, t, u.localpart, u.displayname));
  let done = 0;
  // Big rooms first: their long timelines are then built while the small rooms are.
  const order = [...plan.rooms.filter((r) => r.big), ...plan.rooms.filter((r) => !r.big)];
  const rooms: SeededRoom[] = new Array(plan.rooms.length);
  await pool(order, concurrency, async (room) => {
    const creator = users[room.members[0]];
    const roomId = await createRoom(c, creator, room);
    for (const m of room.members.slice(1)) await join(c, roomId, creator, users[m], room.preset === 'private_chat');
    // One message at a time, so each room's timeline is the plan's order on every run and server.
    const messageIds: string[] = [];
    for (const m of room.messages) messageIds.push(await send(c, roomId, users[room.members[m.sender]], m.msgtype, m.body));
    progress(++done, plan.rooms.length);
    rooms[room.index] = { roomId, alias: room.alias ? `#${room.alias}:${t.serverName}` : null, messageIds };
  });
  const first = plan.rooms.findIndex((r) => r.big);
  const reader = users[plan.reader];
  const reportIds: number[] = [];
  for (const r of plan.reports) {
    const eventId = rooms[first].messageIds[r.message];
    await c.json('POST', `/_matrix/client/v3/rooms/${enc(rooms[first].roomId)}/report/${enc(eventId)}`, reader.token, {
      reason: r.reason,
      score: r.score,
    });
  }
  if (plan.reports.length > 0) {
    const list = await c.json<{ event_reports: { id: number }[] }>(
      'GET',
      `/_synapse/admin/v1/event_reports?limit=${plan.reports.length}`,
      t.adminToken,
    );
    reportIds.push(...list.event_reports.map((r) => r.id));
  }
  await seedAccountData(c, plan, users, rooms);
  return { users, rooms, reportIds };
}

/** The account data type the reader stores, globally and in each of its rooms. */
export const ACCOUNT_DATA_TYPE = 'org.example.compare.settings';

/** The reader's account data: one global entry and one per room it belongs to, as a client keeps them. */
async function seedAccountData(c: RestClient, plan: WorkloadPlan, users: SeededUser[], rooms: SeededRoom[]): Promise<void> {
  const reader = users[plan.reader];
  const base = `/_matrix/client/v3/user/${enc(reader.userId)}`;
  await c.json('PUT', `${base}/account_data/${ACCOUNT_DATA_TYPE}`, reader.token, { theme: 'dark', layout: 'compact', seen: 1 });
  const own = rooms.filter((_, i) => plan.rooms[i].members.includes(plan.reader));
  for (const [i, r] of own.entries())
    await c.json('PUT', `${base}/rooms/${enc(r.roomId)}/account_data/${ACCOUNT_DATA_TYPE}`, reader.token, {
      pinned: i % 2 === 0,
      order: i,
    });
}

/**
 * Waits until the admin rooms list counts every room and two reads a moment apart agree (Synapse
 * fills the statistics behind that list in a background job).
 */
export async function settle(c: RestClient, t: Target, rooms: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const page = await c.json<{ total_rooms: number; rooms: { joined_members: number; state_events: number }[] }>(
      'GET',
      '/_synapse/admin/v1/rooms?limit=500&order_by=joined_members',
      t.adminToken,
    );
    const now = JSON.stringify([page.total_rooms, page.rooms.map((r) => [r.joined_members, r.state_events])]);
    if (page.total_rooms >= rooms && now === last) return;
    if (Date.now() > deadline) throw new Error(`rooms list on ${t.name} did not settle: ${page.total_rooms} of ${rooms} rooms`);
    last = now;
    await new Promise((ok) => setTimeout(ok, 500));
  }
}

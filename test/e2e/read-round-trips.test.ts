/**
 * The event and state reads, and the point reads of rooms and users, run prepared statements only: a pooled connection does not switch
 * `plan_cache_mode` (a SET round trip each time) between the statements of one read or from one
 * read to the next. Counted with `synapse_room_admin_db_plan_switches_total`.
 */
import { strict as assert } from 'node:assert';
import { C, enc } from '../support/client';
import { sample } from '../support/metrics';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';

async function planSwitches(s: Stack): Promise<number> {
  const text = await (await fetch(`${s.baseUrl}/metrics`)).text();
  return (
    sample(text, 'synapse_room_admin_db_plan_switches_total', { to: 'generic' }) +
    sample(text, 'synapse_room_admin_db_plan_switches_total', { to: 'default' })
  );
}

/**
 * Switches made by `rounds` rounds of `round` (after 4 rounds of warm-up: the connections the pool
 * hands out were last used by anything, writes and background jobs included, and switch once
 * each at most the first time).
 */
async function switchesOver(s: Stack, rounds: number, round: (i: number) => Promise<void>): Promise<number> {
  for (let i = 0; i < 4; i++) await round(i);
  const before = await planSwitches(s);
  for (let i = 4; i < 4 + rounds; i++) await round(i);
  return (await planSwitches(s)) - before;
}

/** One round of GETs, each of which must answer 200. */
const gets = (s: Stack, reads: ((i: number) => [string, string])[]) => async (i: number) => {
  for (const read of reads) {
    const [path, token] = read(i);
    const r = await http(s, 'GET', path, { token });
    assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
  }
};

describe('event and state reads: no plan_cache_mode round trips', () => {
  let s: Stack;
  let owner: TestUser;
  let member: TestUser;
  let roomId: string;
  const events: string[] = [];

  before(async () => {
    s = await sharedStack();
    owner = await registerUser(s, uniq('rtowner'));
    member = await registerUser(s, uniq('rtmember'));
    roomId = (await http(s, 'POST', `${C}/createRoom`, { token: owner.token, body: { preset: 'public_chat' } })).body.room_id;
    await http(s, 'POST', `${C}/join/${enc(roomId)}`, { token: member.token, body: {} });
    for (let i = 0; i < 30; i++) {
      const r = await http(s, 'PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/${uniq('t')}`, {
        token: owner.token,
        body: { msgtype: 'm.text', body: `m${i}` },
      });
      events.push(r.body.event_id);
    }
  });

  it('serves /context, /event, /members, /state and a state event without switching plans', async () => {
    const reads: ((i: number) => [string, string])[] = [
      (i) => [`${C}/rooms/${enc(roomId)}/context/${enc(events[5 + (i % 20)])}?limit=6`, member.token],
      (i) => [`${C}/rooms/${enc(roomId)}/event/${enc(events[i % 30])}`, member.token],
      () => [`${C}/rooms/${enc(roomId)}/members`, member.token],
      () => [`${C}/rooms/${enc(roomId)}/state`, member.token],
      () => [`${C}/rooms/${enc(roomId)}/state/m.room.create/`, member.token],
    ];
    const rounds = 20;
    const switches = await switchesOver(s, rounds, gets(s, reads));
    // A background job running meanwhile may switch a connection now and then; a read path that
    // mixes prepared and plain statements switches at least once per request (100 here).
    assert.ok(switches <= 8, `${switches} plan_cache_mode switches in ${rounds * reads.length} reads`);
  });

  it('serves the admin room and user reads and the client point reads without switching plans', async () => {
    const admin = await registerUser(s, uniq('rtadmin'), { admin: true });
    await http(s, 'PUT', `/_matrix/client/v3/directory/room/${enc(`#${uniq('rtalias')}:test`)}`, {
      token: owner.token,
      body: { room_id: roomId },
    });
    const A = '/_synapse/admin';
    const reads: ((i: number) => [string, string])[] = [
      () => [`${A}/v1/rooms/${enc(roomId)}`, admin.token],
      () => [`${A}/v1/rooms/${enc(roomId)}/members`, admin.token],
      () => [`${A}/v1/rooms/${enc(roomId)}/block`, admin.token],
      () => [`${A}/v1/rooms/${enc(roomId)}/forward_extremities`, admin.token],
      () => [`${A}/v2/users/${enc(member.userId)}/devices`, admin.token],
      () => [`${A}/v1/whois/${enc(member.userId)}`, admin.token],
      () => [`${A}/v1/users/${enc(member.userId)}/joined_rooms`, admin.token],
      () => [`${C}/rooms/${enc(roomId)}/aliases`, member.token],
      () => [`${C}/profile/${enc(owner.userId)}`, member.token],
      () => [`${C}/joined_rooms`, member.token],
      () => [`${C}/rooms/${enc(roomId)}/joined_members`, member.token],
    ];
    const rounds = 10;
    const switches = await switchesOver(s, rounds, gets(s, reads));
    assert.ok(switches <= 8, `${switches} plan_cache_mode switches in ${rounds * reads.length} reads`);
  });

  it('makes the usual writes (send, state, displayname, block, join, leave) without switching plans', async () => {
    const writer = await registerUser(s, uniq('rtwriter'));
    const adminToken = (await registerUser(s, uniq('rtwadm'), { admin: true })).token;
    const room = (await http(s, 'POST', `${C}/createRoom`, { token: owner.token, body: { preset: 'public_chat' } })).body.room_id;
    const write = async (i: number) => {
      const results = [
        await http(s, 'PUT', `${C}/rooms/${enc(room)}/send/m.room.message/${uniq('w')}`, {
          token: owner.token,
          body: { msgtype: 'm.text', body: `w${i}` },
        }),
        await http(s, 'PUT', `${C}/rooms/${enc(room)}/state/m.room.topic/`, { token: owner.token, body: { topic: `t${i}` } }),
        await http(s, 'PUT', `${C}/profile/${enc(writer.userId)}/displayname`, { token: writer.token, body: { displayname: `n${i}` } }),
        await http(s, 'PUT', `/_synapse/admin/v1/rooms/${enc(`!rtw${i}:test`)}/block`, { token: adminToken, body: { block: true } }),
        await http(s, 'POST', `${C}/join/${enc(room)}`, { token: writer.token, body: {} }),
        await http(s, 'POST', `${C}/rooms/${enc(room)}/leave`, { token: writer.token, body: {} }),
      ];
      for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const rounds = 15;
    const switches = await switchesOver(s, rounds, write);
    assert.ok(switches <= 8, `${switches} plan_cache_mode switches in ${rounds * 6} writes`);
  });
});

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
    const reads = [
      (i: number) => `${C}/rooms/${enc(roomId)}/context/${enc(events[5 + (i % 20)])}?limit=6`,
      (i: number) => `${C}/rooms/${enc(roomId)}/event/${enc(events[i % 30])}`,
      () => `${C}/rooms/${enc(roomId)}/members`,
      () => `${C}/rooms/${enc(roomId)}/state`,
      () => `${C}/rooms/${enc(roomId)}/state/m.room.create/`,
    ];
    const run = async (rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        for (const path of reads) {
          const r = await http(s, 'GET', path(i), { token: member.token });
          assert.equal(r.status, 200, `${path(i)}: ${JSON.stringify(r.body)}`);
        }
      }
    };
    // Connections the pool hands out were last used by anything (writes, background jobs): one
    // switch each at most, the first time.
    await run(4);
    const before = await planSwitches(s);
    const rounds = 20;
    await run(rounds);
    const switches = (await planSwitches(s)) - before;
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
    const reads: [string, string][] = [
      [`${A}/v1/rooms/${enc(roomId)}`, admin.token],
      [`${A}/v1/rooms/${enc(roomId)}/members`, admin.token],
      [`${A}/v1/rooms/${enc(roomId)}/block`, admin.token],
      [`${A}/v1/rooms/${enc(roomId)}/forward_extremities`, admin.token],
      [`${A}/v2/users/${enc(member.userId)}/devices`, admin.token],
      [`${A}/v1/whois/${enc(member.userId)}`, admin.token],
      [`${A}/v1/users/${enc(member.userId)}/joined_rooms`, admin.token],
      [`${C}/rooms/${enc(roomId)}/aliases`, member.token],
      [`${C}/profile/${enc(owner.userId)}`, member.token],
      [`${C}/joined_rooms`, member.token],
      [`${C}/rooms/${enc(roomId)}/joined_members`, member.token],
    ];
    const run = async (rounds: number) => {
      for (let i = 0; i < rounds; i++)
        for (const [path, token] of reads) {
          const r = await http(s, 'GET', path, { token });
          assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
        }
    };
    await run(4);
    const before = await planSwitches(s);
    const rounds = 10;
    await run(rounds);
    const switches = (await planSwitches(s)) - before;
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
    for (let i = 0; i < 3; i++) await write(i);
    const before = await planSwitches(s);
    const rounds = 15;
    for (let i = 3; i < 3 + rounds; i++) await write(i);
    const switches = (await planSwitches(s)) - before;
    assert.ok(switches <= 8, `${switches} plan_cache_mode switches in ${rounds * 6} writes`);
  });
});

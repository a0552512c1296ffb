/**
 * Ketesa (etkecc/synapse-admin), the admin web UI, saving a user's page after only the display
 * name changed. Its requests are derived here from its code, step by step, from the record our
 * GET user returns:
 *
 * - the record is `users.map(GET /_synapse/admin/v2/users/<id>)` (src/providers/data/synapse.ts):
 *   the body plus id, avatar_src, creation_ts_ms and !!is_guest, !!admin, !!deactivated,
 *   !!shadow_banned;
 * - the form starts from the record; its boolean inputs (suspended, shadow_banned, locked, admin,
 *   deactivated, erased) default to false where the record has no such key, and a disabled input
 *   is left out of what is submitted: the erased box is disabled unless the deactivated box is
 *   ticked (src/resources/users/Edit.tsx);
 * - beforeUpdate (src/providers/data/lifecycle.ts, without MAS) then sends PUT /v1/suspend when
 *   `suspended` differs from the record, POST or DELETE /shadow_ban when `shadow_banned` differs,
 *   and POST /v1/deactivate {"erase": true} when the submission carries both `deactivated` and
 *   `erased`;
 * - update (src/providers/data/index.ts) sends the rest as PUT /_synapse/admin/v2/users/<id>,
 *   null values left out except user_type.
 *
 * Against Synapse that is a single PUT. Our record lacked `suspended`, so the form's false differed
 * from the record's nothing and a suspend request went out too.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';
import { C, enc } from '../support/client';

type Rec = Record<string, unknown>;
interface Req {
  method: string;
  path: string;
  body?: unknown;
}

const BOOLEAN_INPUTS = ['suspended', 'shadow_banned', 'locked', 'admin', 'deactivated', 'erased'];

/** Ketesa's users.map. */
function ketesaRecord(u: Rec): Rec {
  const ts = u.creation_ts as number;
  return {
    ...u,
    id: u.name,
    avatar_src: u.avatar_url ? u.avatar_url : undefined,
    is_guest: !!u.is_guest,
    admin: !!u.admin,
    deactivated: !!u.deactivated,
    shadow_banned: !!u.shadow_banned,
    creation_ts_ms: ts < 1e12 ? ts * 1000 : ts,
  };
}

/** The requests Ketesa sends when Save is clicked with `changes` made to the form of `record`. */
function ketesaSave(record: Rec, changes: Rec): Req[] {
  const data: Rec = { ...record, ...changes };
  for (const k of BOOLEAN_INPUTS) if (data[k] === undefined) data[k] = false;
  if (!data.deactivated) delete data.erased;
  const id = enc(String(record.id));
  const requests: Req[] = [];
  if (data.suspended !== undefined && data.suspended !== record.suspended) {
    requests.push({ method: 'PUT', path: `/_synapse/admin/v1/suspend/${id}`, body: { suspend: data.suspended } });
    delete data.suspended;
  }
  if (data.shadow_banned !== undefined && data.shadow_banned !== record.shadow_banned) {
    requests.push({ method: data.shadow_banned ? 'POST' : 'DELETE', path: `/_synapse/admin/v1/users/${id}/shadow_ban` });
    delete data.shadow_banned;
  }
  if (data.deactivated !== undefined && data.erased !== undefined) {
    requests.push({ method: 'POST', path: `/_synapse/admin/v1/deactivate/${id}`, body: { erase: true } });
    delete data.deactivated;
    delete data.erased;
  }
  const body = JSON.parse(JSON.stringify(data, (key, value) => (value === null && key !== 'user_type' ? undefined : value)));
  requests.push({ method: 'PUT', path: `/_synapse/admin/v2/users/${id}`, body });
  return requests;
}

describe('Ketesa: changing only the display name and saving', () => {
  let s: Stack;
  let admin: TestUser;

  before(async () => {
    s = await sharedStack();
    admin = await registerUser(s, uniq('ketadmin'), { admin: true });
  });

  const getUser = async (userId: string) =>
    (await http(s, 'GET', `/_synapse/admin/v2/users/${enc(userId)}`, { token: admin.token })).body as Rec;

  async function save(userId: string, changes: Rec): Promise<Req[]> {
    const requests = ketesaSave(ketesaRecord(await getUser(userId)), changes);
    for (const r of requests) {
      const res = await http(s, r.method, r.path, { token: admin.token, body: r.body });
      assert.ok(res.status === 200 || res.status === 201, `${r.method} ${r.path}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return requests;
  }

  it('sends only the PUT of the user, and the user is neither deactivated, erased nor suspended', async () => {
    const u = await registerUser(s, uniq('ketuser'));
    const requests = await save(u.userId, { displayname: 'New name' });
    assert.deepEqual(
      requests.map((r) => `${r.method} ${r.path.split('/').slice(0, 5).join('/')}`),
      ['PUT /_synapse/admin/v2/users'],
    );
    const after = await getUser(u.userId);
    assert.deepEqual(
      [after.displayname, after.deactivated, after.erased, after.suspended, after.locked, after.shadow_banned, after.admin],
      ['New name', false, false, false, false, false, false],
    );
    assert.equal((await http(s, 'GET', `${C}/account/whoami`, { token: u.token })).status, 200);
  });

  it('keeps what the record carries: user type, third-party ids, suspension, shadow-ban and lock', async () => {
    const u = await registerUser(s, uniq('ketkeep'));
    await http(s, 'PUT', `/_synapse/admin/v2/users/${enc(u.userId)}`, {
      token: admin.token,
      body: { user_type: 'bot', threepids: [{ medium: 'email', address: 'keep@example.org' }] },
    });
    await http(s, 'PUT', `/_synapse/admin/v1/suspend/${enc(u.userId)}`, { token: admin.token, body: { suspend: true } });
    await http(s, 'POST', `/_synapse/admin/v1/users/${enc(u.userId)}/shadow_ban`, { token: admin.token });
    await http(s, 'PUT', `/_synapse/admin/v2/users/${enc(u.userId)}`, { token: admin.token, body: { locked: true } });
    const before = await getUser(u.userId);
    const requests = await save(u.userId, { displayname: 'Renamed' });
    assert.equal(requests.length, 1, JSON.stringify(requests.map((r) => r.path)));
    const after = await getUser(u.userId);
    assert.deepEqual({ ...after, displayname: before.displayname }, before);
    assert.equal(after.displayname, 'Renamed');
  });
});

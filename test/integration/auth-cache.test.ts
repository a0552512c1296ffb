/**
 * Access tokens are served from memory, and revocation still takes effect everywhere: on the
 * instance that revoked at once, on the others as soon as PostgreSQL announces the change, and a
 * change made by hand in SQL is announced too. Two instances share one database here.
 */
import { strict as assert } from 'node:assert';
import { Client as PgClient } from 'pg';
import { http, registerUser, startStack, uniq, type Stack } from '../support/stack';
import { waitFor } from '../support/client';

const WHOAMI = '/_matrix/client/v3/account/whoami';
const status = (s: Stack, token: string, path = WHOAMI) => http(s, 'GET', path, { token }).then((r) => r.status);

describe('access token cache with cross-instance revocation', function () {
  this.timeout(60_000);
  let a: Stack;
  let b: Stack;
  let pg: PgClient;

  before(async () => {
    a = await startStack();
    b = await startStack({}, { shareDatabaseWith: a });
    pg = new PgClient({ connectionString: a.app.databaseUrl });
    await pg.connect();
  });
  after(async () => {
    await pg?.end();
    await b?.stop();
    await a?.stop();
  });

  it('serves a token from memory after its first use', async () => {
    const u = await registerUser(a, uniq('cached'));
    assert.equal(await status(a, u.token), 200);
    assert.ok(a.app.services.users.tokens.size > 0);
    // The row is gone, but the announcement was suppressed: only then does a cached entry show.
    await pg.query('BEGIN');
    await pg.query('ALTER TABLE access_tokens DISABLE TRIGGER access_tokens_notify');
    await pg.query('DELETE FROM access_tokens WHERE user_id = $1', [u.userId]);
    await pg.query('ALTER TABLE access_tokens ENABLE TRIGGER access_tokens_notify');
    await pg.query('COMMIT');
    assert.equal(await status(a, u.token), 200, 'served from memory');
    assert.equal(await status(b, u.token), 401, 'never seen by the other instance');
  });

  it('a logout takes effect on the same instance at once', async () => {
    const u = await registerUser(a, uniq('local'));
    assert.equal(await status(a, u.token), 200);
    assert.equal((await http(a, 'POST', '/_matrix/client/v3/logout', { token: u.token, body: {} })).status, 200);
    assert.equal(await status(a, u.token), 401);
  });

  it('a logout on another instance is announced and honoured', async () => {
    const u = await registerUser(a, uniq('remote'));
    assert.equal(await status(a, u.token), 200);
    assert.equal(await status(b, u.token), 200);
    assert.equal((await http(b, 'POST', '/_matrix/client/v3/logout', { token: u.token, body: {} })).status, 200);
    await waitFor(
      () => status(a, u.token),
      (s) => s === 401,
    );
  });

  it('a token deleted by hand in SQL is announced and honoured', async () => {
    const u = await registerUser(a, uniq('sql'));
    assert.equal(await status(a, u.token), 200);
    await pg.query('DELETE FROM access_tokens WHERE user_id = $1', [u.userId]);
    await waitFor(
      () => status(a, u.token),
      (s) => s === 401,
    );
  });

  it('revoking admin rights or deactivating on another instance is honoured', async () => {
    const admin = await registerUser(a, uniq('admin'), { admin: true });
    const other = await registerUser(a, uniq('target'));
    const rooms = '/_synapse/admin/v1/rooms';
    assert.equal(await status(a, admin.token, rooms), 200);
    await pg.query('UPDATE users SET admin = false WHERE name = $1', [admin.userId]);
    await waitFor(
      () => status(a, admin.token, rooms),
      (s) => s === 403,
    );
    await pg.query('UPDATE users SET admin = true WHERE name = $1', [admin.userId]);
    await waitFor(
      () => status(a, admin.token, rooms),
      (s) => s === 200,
    );

    assert.equal(await status(a, other.token), 200);
    const put = await http(b, 'PUT', `/_synapse/admin/v2/users/${encodeURIComponent(other.userId)}`, {
      token: admin.token,
      body: { deactivated: true },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await waitFor(
      () => status(a, other.token),
      (s) => s === 401,
    );
  });

  it('an admin deleting a device or resetting a password on another instance is honoured', async () => {
    const admin = await registerUser(a, uniq('devadmin'), { admin: true });
    const u = await registerUser(a, uniq('devtarget'));
    assert.equal(await status(a, u.token), 200);
    const del = await http(
      b,
      'DELETE',
      `/_synapse/admin/v2/users/${encodeURIComponent(u.userId)}/devices/${encodeURIComponent(u.deviceId)}`,
      { token: admin.token },
    );
    assert.equal(del.status, 200);
    await waitFor(
      () => status(a, u.token),
      (s) => s === 401,
    );

    const v = await registerUser(a, uniq('pwtarget'));
    assert.equal(await status(a, v.token), 200);
    const reset = await http(b, 'POST', `/_synapse/admin/v1/reset_password/${encodeURIComponent(v.userId)}`, {
      token: admin.token,
      body: { new_password: 'changed' },
    });
    assert.equal(reset.status, 200);
    await waitFor(
      () => status(a, v.token),
      (s) => s === 401,
    );
  });

  it('locking a user on another instance, or by hand in SQL, is honoured; so is the unlock', async () => {
    const admin = await registerUser(a, uniq('lockadmin'), { admin: true });
    const u = await registerUser(a, uniq('locktarget'));
    assert.equal(await status(a, u.token), 200);
    assert.equal(await status(b, u.token), 200);
    const lock = await http(b, 'PUT', `/_synapse/admin/v2/users/${encodeURIComponent(u.userId)}`, {
      token: admin.token,
      body: { locked: true },
    });
    assert.equal(lock.status, 200);
    assert.equal(await status(b, u.token), 401, 'at once on the instance that locked');
    await waitFor(
      () => status(a, u.token),
      (s) => s === 401,
    );
    const unlock = await http(b, 'PUT', `/_synapse/admin/v2/users/${encodeURIComponent(u.userId)}`, {
      token: admin.token,
      body: { locked: false },
    });
    assert.equal(unlock.status, 200);
    await waitFor(
      () => status(a, u.token),
      (s) => s === 200,
    );
    await pg.query('UPDATE users SET locked = true WHERE name = $1', [u.userId]);
    await waitFor(
      () => status(a, u.token),
      (s) => s === 401,
    );
    await waitFor(
      () => status(b, u.token),
      (s) => s === 401,
    );
  });

  it('asks the database on every call while its announcement channel is down', async () => {
    const u = await registerUser(a, uniq('down'));
    assert.equal(await status(a, u.token), 200);
    await pg.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'synapse-room-admin/sra_auth-listener' AND datname = current_database()",
    );
    // Remove the token without an announcement: only a database lookup can notice.
    await pg.query('BEGIN');
    await pg.query('ALTER TABLE access_tokens DISABLE TRIGGER access_tokens_notify');
    await pg.query('DELETE FROM access_tokens WHERE user_id = $1', [u.userId]);
    await pg.query('ALTER TABLE access_tokens ENABLE TRIGGER access_tokens_notify');
    await pg.query('COMMIT');
    await waitFor(
      () => status(a, u.token),
      (s) => s === 401,
    );
    // The subscription comes back by itself and caching resumes.
    const v = await registerUser(a, uniq('back'));
    await waitFor(
      async () => a.app.services.users.tokens.enabled,
      (up) => up,
    );
    assert.equal(await status(a, v.token), 200);
    assert.ok(a.app.services.users.tokens.size > 0);
  });
});

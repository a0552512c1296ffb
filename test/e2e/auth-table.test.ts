/**
 * Every route the gateway serves × {no token, unknown token, non-admin}: 401 / 401 / 403, checked
 * before any input validation (Synapse's order). The route list comes from the running app, so
 * new routes are covered as soon as they exist.
 */
import { strict as assert } from 'node:assert';
import { sharedStack } from '../support/root-hooks';
import { http, registerUser, uniq, type Stack, type TestUser } from '../support/stack';

const SAMPLE: Record<string, string> = {
  roomId: '!authtable:test',
  roomIdOrAlias: '!authtable:test',
  roomAlias: '#authtable:test',
  userId: '@authtable:test',
  eventId: '$authtable',
  eventType: 'm.room.message',
  stateKey: '',
  txnId: 'txn1',
  deleteId: 'abcdefghijklmnop',
  purgeId: 'abcdefghijklmnop',
  taskId: 'abcdefghijklmnop',
};

function samplePath(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(SAMPLE[name] ?? 'x'));
}

describe('auth table: every authenticated route', () => {
  let s: Stack;
  let user: TestUser;
  before(async () => {
    s = await sharedStack();
    user = await registerUser(s, uniq('authtable'));
  });

  it('refuses missing and unknown tokens on every authenticated route, and non-admins on every admin route', async () => {
    const routes = s.app.routes.filter((r) => r.auth !== 'none');
    assert.ok(routes.length > 0);
    const failures: string[] = [];
    for (const route of routes) {
      const path = samplePath(route.path);
      const body = route.method === 'GET' ? undefined : '{not json';
      const none = await http(s, route.method, path, { rawBody: body });
      if (none.status !== 401 || none.body.errcode !== 'M_MISSING_TOKEN')
        failures.push(`${route.method} ${route.path} without token → ${none.status} ${JSON.stringify(none.body)}`);
      const unknown = await http(s, route.method, path, { rawBody: body, token: 'syt_unknown_token' });
      if (unknown.status !== 401 || unknown.body.errcode !== 'M_UNKNOWN_TOKEN')
        failures.push(`${route.method} ${route.path} unknown token → ${unknown.status} ${JSON.stringify(unknown.body)}`);
      if (route.auth === 'admin') {
        const nonAdmin = await http(s, route.method, path, { rawBody: body, token: user.token });
        if (nonAdmin.status !== 403 || nonAdmin.body.errcode !== 'M_FORBIDDEN' || nonAdmin.body.error !== 'You are not a server admin') {
          failures.push(`${route.method} ${route.path} non-admin → ${nonAdmin.status} ${JSON.stringify(nonAdmin.body)}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  it('only lets the documented public routes through without a token', () => {
    const open = s.app.routes
      .filter((r) => r.auth === 'none')
      .map((r) => `${r.method} ${r.path}`)
      .sort();
    const allowed = [
      /\/_matrix\/client\/versions$/,
      /\/_synapse\/admin\/v1\/server_version$/,
      /\/_synapse\/admin\/v1\/register$/,
      /\/_matrix\/client\/(r0|v3)\/login$/,
      /\/directory\/room\/\{roomAlias\}$/,
      /\/directory\/list\/room\/\{roomId\}$/,
      /\/_matrix\/client\/(r0|v3)\/profile\/\{userId\}(\/displayname|\/avatar_url)?$/,
    ];
    for (const r of open)
      assert.ok(
        allowed.some((re) => re.test(r)),
        `unexpected public route ${r}`,
      );
  });
});

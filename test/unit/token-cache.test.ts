import { strict as assert } from 'node:assert';
import { TokenCache } from '../../src/users/token-cache';
import type { TokenOwner } from '../../src/users/user.repository';

const owner = (userId: string, tokenId = 1): TokenOwner => ({
  tokenId,
  userId,
  authenticatedEntity: userId,
  deviceId: 'D',
  validUntilMs: null,
  admin: false,
  deactivated: false,
  isGuest: false,
  locked: false,
  suspended: false,
  shadowBanned: false,
});

describe('TokenCache', () => {
  let now = 0;
  const cache = (ttl = 1_000, max = 100) => {
    const c = new TokenCache(ttl, max, () => now);
    c.setLive(true);
    return c;
  };
  beforeEach(() => (now = 1_000_000));

  it('serves an entry until its time to live has passed', () => {
    const c = cache();
    c.set('h', owner('@a:test'), c.mark());
    now += 999;
    assert.equal(c.get('h')?.userId, '@a:test');
    now += 1;
    assert.equal(c.get('h'), null);
    assert.equal(c.size, 0);
  });

  it('does not store a lookup that started before an eviction', () => {
    const c = cache();
    const mark = c.mark();
    c.evictToken('other');
    c.set('h', owner('@a:test'), mark);
    assert.equal(c.get('h'), null);
    c.set('h', owner('@a:test'), c.mark());
    assert.ok(c.get('h'));
  });

  it('evicts every token of a user, and only theirs', () => {
    const c = cache();
    c.set('a1', owner('@a:test', 1), c.mark());
    c.set('a2', owner('@a:test', 2), c.mark());
    c.set('b1', owner('@b:test', 3), c.mark());
    c.evictUser('@a:test');
    assert.equal(c.get('a1'), null);
    assert.equal(c.get('a2'), null);
    assert.equal(c.get('b1')?.userId, '@b:test');
  });

  it('serves and stores nothing while its invalidation channel is down, and starts empty when it is back', () => {
    const c = cache();
    c.set('h', owner('@a:test'), c.mark());
    c.setLive(false);
    assert.equal(c.get('h'), null);
    c.set('h', owner('@a:test'), c.mark());
    c.setLive(true);
    assert.equal(c.get('h'), null);
    assert.equal(c.size, 0);
  });

  it('is disabled by a time to live of 0', () => {
    const c = cache(0);
    c.set('h', owner('@a:test'), c.mark());
    assert.equal(c.get('h'), null);
    assert.equal(c.enabled, false);
  });

  it('drops the oldest entry when full', () => {
    const c = cache(1_000, 2);
    c.set('h1', owner('@a:test', 1), c.mark());
    c.set('h2', owner('@b:test', 2), c.mark());
    c.set('h3', owner('@c:test', 3), c.mark());
    assert.equal(c.size, 2);
    assert.equal(c.get('h1'), null);
    assert.ok(c.get('h3'));
    c.evictUser('@a:test');
    assert.equal(c.size, 2);
  });
});

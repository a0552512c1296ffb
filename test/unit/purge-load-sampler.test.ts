/** The purge's view of whether it shares the database, from successive pg_stat_activity samples. */
import { strict as assert } from 'node:assert';
import { LoadSampler, PURGE_SHARED_SAMPLES } from '../../src/pagination/purge-history.service';

describe('LoadSampler', () => {
  it('is alone until a sample sees another statement, then shared until enough empty samples in a row', async () => {
    const counts: number[] = [];
    const sampler = new LoadSampler(async () => counts.shift() ?? 0);
    assert.equal(sampler.shared, false);
    counts.push(0, 0);
    await sampler.sample();
    await sampler.sample();
    assert.equal(sampler.shared, false);
    counts.push(2);
    await sampler.sample();
    assert.equal(sampler.shared, true);
    for (let i = 1; i < PURGE_SHARED_SAMPLES; i++) {
      await sampler.sample();
      assert.equal(sampler.shared, true, `after ${i} empty samples`);
    }
    // A sighting before the window runs out starts it again.
    counts.push(1);
    await sampler.sample();
    for (let i = 1; i < PURGE_SHARED_SAMPLES; i++) await sampler.sample();
    assert.equal(sampler.shared, true);
    await sampler.sample();
    assert.equal(sampler.shared, false);
  });
});

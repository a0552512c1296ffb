import { strict as assert } from 'node:assert';
import { DEFAULT_GENERATOR_OPTIONS, generateImportBatches, localUserIds } from '../../src/dev/seed/generator';

describe('seed generator', () => {
  it('never repeats an alias or an event id, even over tens of thousands of rooms', function () {
    this.timeout(60_000);
    // With seed 7, 30,000 aliased rooms drew the same name and four letters twice before aliases
    // were drawn until unused (the import then refused the data set as a duplicate).
    const aliases = new Set<string>();
    const eventIds = new Set<string>();
    let rooms = 0;
    const options = {
      ...DEFAULT_GENERATOR_OPTIONS,
      serverName: 'test',
      rooms: 30_000,
      eventsPerRoom: 0,
      membersPerRoom: 1,
      aliasRatio: 1,
      jitter: 0,
      batchEvents: 50_000,
      seed: 7,
      localUsers: localUserIds('test', 5),
    };
    for (const batch of generateImportBatches(options)) {
      for (const r of batch) {
        for (const a of r.aliases ?? []) {
          assert.ok(!aliases.has(a), `alias ${a} repeated`);
          aliases.add(a);
          rooms += 1;
        }
        for (const e of r.events) {
          assert.ok(e.eventId && !eventIds.has(e.eventId), `event id ${e.eventId} repeated`);
          eventIds.add(e.eventId);
        }
      }
    }
    assert.equal(rooms, 30_000);
  });
});

import { Migration } from '@mikro-orm/migrations';

/**
 * Indexes for history purges. A purge batch covers a stream-ordering range of one room; with
 * relations indexed by (room, stream ordering) the relations of the batch's events are one index
 * range scan, instead of a probe of the primary key per purged event (most of which have none).
 */
export class Migration20261122000006PaginationPurgeIndexes extends Migration {
  async up(): Promise<void> {
    this.addSql('CREATE INDEX event_relations_room_stream_idx ON event_relations (room_id, stream_ordering)');
  }

  async down(): Promise<void> {
    this.addSql('DROP INDEX event_relations_room_stream_idx');
  }
}

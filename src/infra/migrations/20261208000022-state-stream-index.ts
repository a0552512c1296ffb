import { Migration } from '@mikro-orm/migrations';

/**
 * A room's state events in stream order. "The last state event at or before a position" (the
 * state group of a forward extremity) walked `events_room_stream_idx` backwards and skipped every
 * message on the way: in a room whose state last changed 3,000 messages ago, 3,000 rows for one
 * answer. Only state events have an entry here, so the walk's first entry is the answer.
 */
export class Migration20261208000022StateStreamIndex extends Migration {
  async up(): Promise<void> {
    this.addSql('CREATE INDEX events_room_state_stream_idx ON events (room_id, stream_ordering) WHERE state_key IS NOT NULL');
  }

  async down(): Promise<void> {
    this.addSql('DROP INDEX events_room_state_stream_idx');
  }
}

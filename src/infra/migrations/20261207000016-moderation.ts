import { Migration } from '@mikro-orm/migrations';

/**
 * Event reports (Synapse's `event_reports`: the reporter, the reason and the whole request body),
 * walked by time for the admin list; and the public room directory's index: the rooms it may list
 * (published, joinable or world-readable, with members) in its order, biggest first.
 */
export class Migration20261207000016Moderation extends Migration {
  async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE event_reports (
        id bigserial PRIMARY KEY,
        received_ts bigint NOT NULL,
        room_id text NOT NULL,
        event_id text NOT NULL,
        user_id text NOT NULL,
        reason text,
        content jsonb NOT NULL
      )`);
    this.addSql('CREATE INDEX event_reports_received_idx ON event_reports (received_ts, id)');
    this.addSql('CREATE INDEX event_reports_room_idx ON event_reports (room_id)');
    this.addSql(`
      CREATE INDEX room_stats_public_directory_idx ON room_stats (joined_members DESC, room_id DESC)
      WHERE is_public AND joined_members > 0 AND (join_rules IN ('public', 'knock', 'knock_restricted') OR history_visibility = 'world_readable')`);
  }

  async down(): Promise<void> {
    this.addSql('DROP INDEX room_stats_public_directory_idx');
    this.addSql('DROP TABLE event_reports');
  }
}

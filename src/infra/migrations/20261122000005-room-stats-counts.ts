import { Migration } from '@mikro-orm/migrations';

/**
 * Room counts for the admin room list's `total_rooms`, kept by triggers on `room_stats`, so the
 * total of an unfiltered (or public/empty-filtered) listing is a sum over a few rows instead of a
 * count over every room.
 *
 * Design notes:
 * - One row per (shard, is_public, empty) bucket. Shards (hash of the room id) spread concurrent
 *   room creations over several rows, so they rarely wait for each other's row lock.
 * - Statement-level triggers with transition tables: a bulk import of many rooms costs one
 *   aggregated upsert per statement, and an UPDATE that moves no room between buckets (the common
 *   case: a message, a join to a non-empty room) writes nothing.
 * - Buckets are upserted in key order, so two statements touching several buckets cannot deadlock.
 */
export class Migration20261122000005RoomStatsCounts extends Migration {
  async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE room_stats_counts (
        shard smallint NOT NULL,
        is_public boolean NOT NULL,
        empty boolean NOT NULL,
        rooms bigint NOT NULL,
        PRIMARY KEY (shard, is_public, empty)
      )`);
    this.addSql(`
      CREATE FUNCTION room_stats_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO room_stats_counts AS c (shard, is_public, empty, rooms)
          SELECT (hashtext(room_id) & 7)::smallint, is_public, joined_members = 0, count(*) FROM new_rows
           GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
          ON CONFLICT (shard, is_public, empty) DO UPDATE SET rooms = c.rooms + EXCLUDED.rooms;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO room_stats_counts AS c (shard, is_public, empty, rooms)
          SELECT (hashtext(room_id) & 7)::smallint, is_public, joined_members = 0, -count(*) FROM old_rows
           GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
          ON CONFLICT (shard, is_public, empty) DO UPDATE SET rooms = c.rooms + EXCLUDED.rooms;
        ELSE
          INSERT INTO room_stats_counts AS c (shard, is_public, empty, rooms)
          SELECT shard, is_public, empty, sum(d) FROM (
            SELECT (hashtext(room_id) & 7)::smallint AS shard, is_public, joined_members = 0 AS empty, 1 AS d FROM new_rows
            UNION ALL
            SELECT (hashtext(room_id) & 7)::smallint, is_public, joined_members = 0, -1 FROM old_rows
          ) moved GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
          ON CONFLICT (shard, is_public, empty) DO UPDATE SET rooms = c.rooms + EXCLUDED.rooms;
        END IF;
        RETURN NULL;
      END $$`);
    this.addSql(
      'CREATE TRIGGER room_stats_counts_insert AFTER INSERT ON room_stats REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION room_stats_counts_apply()',
    );
    this.addSql(
      'CREATE TRIGGER room_stats_counts_delete AFTER DELETE ON room_stats REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION room_stats_counts_apply()',
    );
    this.addSql(
      'CREATE TRIGGER room_stats_counts_update AFTER UPDATE ON room_stats REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION room_stats_counts_apply()',
    );
    this.addSql(`
      INSERT INTO room_stats_counts (shard, is_public, empty, rooms)
      SELECT (hashtext(room_id) & 7)::smallint, is_public, joined_members = 0, count(*) FROM room_stats GROUP BY 1, 2, 3`);
  }

  async down(): Promise<void> {
    this.addSql('DROP TRIGGER room_stats_counts_update ON room_stats');
    this.addSql('DROP TRIGGER room_stats_counts_delete ON room_stats');
    this.addSql('DROP TRIGGER room_stats_counts_insert ON room_stats');
    this.addSql('DROP FUNCTION room_stats_counts_apply()');
    this.addSql('DROP TABLE room_stats_counts');
  }
}

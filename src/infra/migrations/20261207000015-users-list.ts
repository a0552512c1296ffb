import { Migration } from '@mikro-orm/migrations';

/** Sort keys of the admin users list; each gets a (key, name) index for both directions. */
export const USER_SORT_COLUMNS = [
  'displayname',
  'is_guest',
  'admin',
  'deactivated',
  'user_type',
  'avatar_url',
  'shadow_banned',
  'creation_ts',
  'last_seen_ts',
  'locked',
];

/** Columns the list filters on, carried in the sort indexes so a page is found from the index alone. */
const FILTER_COLUMNS = 'is_guest, deactivated, admin, locked, suspended, user_type';

/**
 * The admin users list (`GET /_synapse/admin/v2|v3/users`) at scale.
 *
 * - The account flags Synapse lists and filters on (`locked`, `shadow_banned`, and `suspended`)
 *   become columns of `users`, beside `avatar_url` and `last_seen_ts` (migration 12).
 * - Each sort key has two indexes: (key ASC, name) and (key DESC, name). Synapse breaks ties by
 *   name ascending in both directions, so a backward listing needs its own index to be read in
 *   order instead of sorted. The indexes carry the filter columns, so the entries a deep page
 *   skips (and the filters on them) are read from the index without visiting the table.
 * - Searches (`user_id` on the whole id, `name` on the localpart or display name) are substring
 *   LIKEs, answered from trigram indexes.
 * - Per-user reads: a case-insensitive id lookup (registration's name check) and a user's sent
 *   invites (`sent_invite_count`) have their own indexes.
 * - `user_counts` holds the number of users per (shard, guest, deactivated, admin, locked,
 *   suspended, user type) bucket, kept by statement-level triggers as `room_stats_counts` is, so the
 *   `total` of a listing without a search term is a sum over a few rows instead of a count.
 */
export class Migration20261207000015UsersList extends Migration {
  async up(): Promise<void> {
    // IF NOT EXISTS: the locked and suspended semantics may add their columns in their own change.
    this.addSql(`ALTER TABLE users
      ADD COLUMN IF NOT EXISTS locked boolean NOT NULL DEFAULT false,
      ADD COLUMN IF NOT EXISTS suspended boolean NOT NULL DEFAULT false,
      ADD COLUMN IF NOT EXISTS shadow_banned boolean NOT NULL DEFAULT false`);

    this.addSql(`CREATE INDEX users_name_idx ON users (name) INCLUDE (${FILTER_COLUMNS})`);
    for (const col of USER_SORT_COLUMNS) {
      this.addSql(`CREATE INDEX users_${col}_idx ON users (${col}, name) INCLUDE (${FILTER_COLUMNS})`);
      this.addSql(`CREATE INDEX users_${col}_desc_idx ON users (${col} DESC, name) INCLUDE (${FILTER_COLUMNS})`);
    }
    this.addSql('CREATE INDEX users_name_trgm_idx ON users USING gin (name gin_trgm_ops)');
    this.addSql('CREATE INDEX users_displayname_lower_trgm_idx ON users USING gin (lower(displayname) gin_trgm_ops)');
    // Registration's "already taken" check ignores case.
    this.addSql('CREATE INDEX users_name_lower_idx ON users (lower(name))');
    // sent_invite_count counts a user's invites.
    this.addSql("CREATE INDEX room_memberships_invite_sender_idx ON room_memberships (sender) WHERE membership = 'invite'");

    this.addSql(`
      CREATE TABLE user_counts (
        shard smallint NOT NULL,
        is_guest boolean NOT NULL,
        deactivated boolean NOT NULL,
        admin boolean NOT NULL,
        locked boolean NOT NULL,
        suspended boolean NOT NULL,
        user_type text NOT NULL DEFAULT '',
        users bigint NOT NULL,
        PRIMARY KEY (shard, is_guest, deactivated, admin, locked, suspended, user_type)
      )`);
    // user_type '' stands for NULL (a key column cannot hold NULL); user types are never empty.
    const bucket = `(hashtext(name) & 7)::smallint, is_guest, deactivated, admin, locked, suspended, coalesce(user_type, '')`;
    const upsert = `ON CONFLICT (shard, is_guest, deactivated, admin, locked, suspended, user_type) DO UPDATE SET users = c.users + EXCLUDED.users`;
    const cols = 'shard, is_guest, deactivated, admin, locked, suspended, user_type, users';
    this.addSql(`
      CREATE FUNCTION user_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO user_counts AS c (${cols})
          SELECT ${bucket}, count(*) FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7 ${upsert};
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO user_counts AS c (${cols})
          SELECT ${bucket}, -count(*) FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7 ${upsert};
        ELSE
          INSERT INTO user_counts AS c (${cols})
          SELECT s, g, d, a, l, su, t, sum(n) FROM (
            SELECT ${bucket}, 1 FROM new_rows
            UNION ALL
            SELECT ${bucket}, -1 FROM old_rows
          ) moved (s, g, d, a, l, su, t, n) GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7 ${upsert};
        END IF;
        RETURN NULL;
      END $$`);
    this.addSql(
      'CREATE TRIGGER user_counts_insert AFTER INSERT ON users REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_counts_apply()',
    );
    this.addSql(
      'CREATE TRIGGER user_counts_delete AFTER DELETE ON users REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION user_counts_apply()',
    );
    this.addSql(
      'CREATE TRIGGER user_counts_update AFTER UPDATE ON users REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_counts_apply()',
    );
    this.addSql(`INSERT INTO user_counts (${cols}) SELECT ${bucket}, count(*) FROM users GROUP BY 1, 2, 3, 4, 5, 6, 7`);
  }

  async down(): Promise<void> {
    this.addSql('DROP TRIGGER user_counts_update ON users');
    this.addSql('DROP TRIGGER user_counts_delete ON users');
    this.addSql('DROP TRIGGER user_counts_insert ON users');
    this.addSql('DROP FUNCTION user_counts_apply()');
    this.addSql('DROP TABLE user_counts');
    this.addSql(
      'DROP INDEX users_name_trgm_idx, users_displayname_lower_trgm_idx, users_name_lower_idx, room_memberships_invite_sender_idx',
    );
    for (const col of USER_SORT_COLUMNS) this.addSql(`DROP INDEX users_${col}_idx, users_${col}_desc_idx`);
    this.addSql('DROP INDEX users_name_idx');
    this.addSql('ALTER TABLE users DROP COLUMN locked, DROP COLUMN suspended, DROP COLUMN shadow_banned');
  }
}

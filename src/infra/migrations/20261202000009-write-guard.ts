import { Migration } from '@mikro-orm/migrations';

/**
 * The all-or-nothing check of an event write's room guards. A write statement compare-and-sets
 * the `last_depth` of every room it writes; when only some of those updates matched (another
 * writer won a room), this raises, so the statement fails as a whole and the rooms it did update
 * roll back with it. That lets a write spanning several rooms run optimistically in autocommit
 * instead of in a transaction that locks the rooms first.
 */
export class Migration20261202000009WriteGuard extends Migration {
  async up(): Promise<void> {
    this.addSql(`
      CREATE FUNCTION event_write_guards_hold(held bigint, wanted int) RETURNS boolean
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
      BEGIN
        IF held > 0 AND held < wanted THEN
          RAISE EXCEPTION 'event write lost % of % room guards', wanted - held, wanted USING ERRCODE = 'SR001';
        END IF;
        RETURN held = wanted;
      END
      $$`);
  }

  async down(): Promise<void> {
    this.addSql('DROP FUNCTION event_write_guards_hold(bigint, int)');
  }
}

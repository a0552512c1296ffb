import { Migration } from '@mikro-orm/migrations';

/**
 * Locked, suspended and shadow-banned accounts, and a user's third-party ids.
 *
 * - `sra_auth` now also announces a change of `locked`, `suspended` or `shadow_banned` (columns of
 *   migration 15): each is resolved with the token and cached with it, so every instance must
 *   forget the user's tokens when one changes, as it does for `admin` and `deactivated`.
 * - `user_threepids` holds the third-party ids an admin sets (Synapse's table of the same name). A
 *   (medium, address) pair belongs to one user at most; giving it to another user moves it.
 */
export class Migration20261207000018UserRestrictions extends Migration {
  async up(): Promise<void> {
    this.addSql(`
      CREATE OR REPLACE FUNCTION sra_notify_user_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' OR OLD.admin IS DISTINCT FROM NEW.admin OR OLD.deactivated IS DISTINCT FROM NEW.deactivated
           OR OLD.is_guest IS DISTINCT FROM NEW.is_guest OR OLD.locked IS DISTINCT FROM NEW.locked
           OR OLD.suspended IS DISTINCT FROM NEW.suspended OR OLD.shadow_banned IS DISTINCT FROM NEW.shadow_banned THEN
          PERFORM pg_notify('sra_auth', 'u|' || OLD.name);
        END IF;
        RETURN NULL;
      END $$`);
    this.addSql(`CREATE TABLE user_threepids (
      user_id text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      medium text NOT NULL,
      address text NOT NULL,
      validated_at bigint NOT NULL,
      added_at bigint NOT NULL,
      PRIMARY KEY (medium, address)
    )`);
    this.addSql('CREATE INDEX user_threepids_user_idx ON user_threepids (user_id)');
  }

  async down(): Promise<void> {
    this.addSql('DROP TABLE user_threepids');
    this.addSql(`
      CREATE OR REPLACE FUNCTION sra_notify_user_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' OR OLD.admin IS DISTINCT FROM NEW.admin OR OLD.deactivated IS DISTINCT FROM NEW.deactivated
           OR OLD.is_guest IS DISTINCT FROM NEW.is_guest THEN
          PERFORM pg_notify('sra_auth', 'u|' || OLD.name);
        END IF;
        RETURN NULL;
      END $$`);
  }
}

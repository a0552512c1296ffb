import { Migration } from '@mikro-orm/migrations';

/**
 * Credential changes are announced on the `sra_auth` channel, so every instance drops what it
 * cached about a token the moment it is revoked, wherever that happened (an RPC on another
 * instance, or SQL run by hand). Payloads: `t|<hex token hash>` when a token row is deleted or
 * changed, `u|<user id>` when a user's admin, guest or deactivated flag changes or the user is
 * deleted. The notification is delivered when the writing transaction commits.
 */
export class Migration20261201000007AuthInvalidation extends Migration {
  async up(): Promise<void> {
    this.addSql(`
      CREATE FUNCTION sra_notify_token_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('sra_auth', 't|' || encode(OLD.token_hash, 'hex'));
        RETURN NULL;
      END $$`);
    this.addSql(`
      CREATE TRIGGER access_tokens_notify AFTER UPDATE OR DELETE ON access_tokens
        FOR EACH ROW EXECUTE FUNCTION sra_notify_token_change()`);
    this.addSql(`
      CREATE FUNCTION sra_notify_user_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' OR OLD.admin IS DISTINCT FROM NEW.admin OR OLD.deactivated IS DISTINCT FROM NEW.deactivated
           OR OLD.is_guest IS DISTINCT FROM NEW.is_guest THEN
          PERFORM pg_notify('sra_auth', 'u|' || OLD.name);
        END IF;
        RETURN NULL;
      END $$`);
    this.addSql(`
      CREATE TRIGGER users_notify AFTER UPDATE OR DELETE ON users
        FOR EACH ROW EXECUTE FUNCTION sra_notify_user_change()`);
  }

  async down(): Promise<void> {
    this.addSql('DROP TRIGGER users_notify ON users');
    this.addSql('DROP TRIGGER access_tokens_notify ON access_tokens');
    this.addSql('DROP FUNCTION sra_notify_user_change(), sra_notify_token_change()');
  }
}

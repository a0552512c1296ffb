import { Migration } from '@mikro-orm/migrations';

/**
 * The ids a user has at external auth providers (Synapse's `user_external_ids`): a (provider, id)
 * pair maps to one user at most; `(user_id)` serves the user's list.
 */
export class Migration20261207000021UserExternalIds extends Migration {
  async up(): Promise<void> {
    this.addSql(`CREATE TABLE user_external_ids (
      auth_provider text NOT NULL,
      external_id text NOT NULL,
      user_id text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      PRIMARY KEY (auth_provider, external_id)
    )`);
    this.addSql('CREATE INDEX user_external_ids_user_idx ON user_external_ids (user_id)');
  }

  async down(): Promise<void> {
    this.addSql('DROP TABLE user_external_ids');
  }
}

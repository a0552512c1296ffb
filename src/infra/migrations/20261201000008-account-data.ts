import { Migration } from '@mikro-orm/migrations';

/**
 * Global account data of local users (`PUT /user/{userId}/account_data/{type}`), and the users
 * each user ignores, kept from their `m.ignored_user_list` (the keys of its `ignored_users`) so
 * `/messages` can leave those senders' events out in SQL.
 */
export class Migration20261201000008AccountData extends Migration {
  async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE account_data (
        user_id text NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        account_data_type text NOT NULL,
        content jsonb NOT NULL,
        updated_ts bigint NOT NULL,
        PRIMARY KEY (user_id, account_data_type)
      )`);
    this.addSql(`
      CREATE TABLE ignored_users (
        ignorer_user_id text NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        ignored_user_id text NOT NULL,
        PRIMARY KEY (ignorer_user_id, ignored_user_id)
      )`);
  }

  async down(): Promise<void> {
    this.addSql('DROP TABLE ignored_users');
    this.addSql('DROP TABLE account_data');
  }
}

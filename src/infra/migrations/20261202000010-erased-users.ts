import { Migration } from '@mikro-orm/migrations';

/**
 * Users deactivated with `erase: true` (GDPR erasure). Their events stay in rooms, but are shown
 * pruned to readers who were not joined when the event was sent (spec §5.7 step 7).
 */
export class Migration20261202000010ErasedUsers extends Migration {
  async up(): Promise<void> {
    this.addSql('CREATE TABLE erased_users (user_id text PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE)');
  }

  async down(): Promise<void> {
    this.addSql('DROP TABLE erased_users');
  }
}

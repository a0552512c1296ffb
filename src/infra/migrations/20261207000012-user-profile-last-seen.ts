import { Migration } from '@mikro-orm/migrations';

/**
 * The avatar half of a local user's global profile (the display name already lives on `users`),
 * and when the user was last seen: the last time one of their access tokens authenticated a
 * request (for a token used by an admin to act as a user, the admin's), kept at
 * LAST_SEEN_GRANULARITY_MS, as Synapse's `user_ips.last_seen` that admin user details read.
 */
export class Migration20261207000012UserProfileLastSeen extends Migration {
  async up(): Promise<void> {
    this.addSql('ALTER TABLE users ADD COLUMN avatar_url text, ADD COLUMN last_seen_ts bigint');
  }

  async down(): Promise<void> {
    this.addSql('ALTER TABLE users DROP COLUMN avatar_url, DROP COLUMN last_seen_ts');
  }
}

import { Migration } from '@mikro-orm/migrations';

/**
 * Client addresses, as Synapse records them (`user_ips`, and `devices.ip` / `devices.user_agent`
 * beside `devices.last_seen_ts`).
 *
 * - `user_ips` has one row per (user, access token, address) with the last user agent, the device
 *   of the token and when it was last seen. The token is named by its `access_tokens.id`, not its
 *   text (Synapse stores the token itself); rows outlive their token and device, as in Synapse, and
 *   are pruned by age (USER_IPS_MAX_AGE).
 * - `(user_id, last_seen)` serves whois; `(last_seen)` serves the pruning.
 */
export class Migration20261207000020ClientIps extends Migration {
  async up(): Promise<void> {
    this.addSql(`CREATE TABLE user_ips (
      user_id text NOT NULL,
      access_token_id bigint NOT NULL,
      ip text NOT NULL,
      user_agent text NOT NULL,
      device_id text,
      last_seen bigint NOT NULL,
      PRIMARY KEY (user_id, access_token_id, ip)
    )`);
    this.addSql('CREATE INDEX user_ips_user_last_seen_idx ON user_ips (user_id, last_seen)');
    this.addSql('CREATE INDEX user_ips_last_seen_idx ON user_ips (last_seen)');
    this.addSql('ALTER TABLE devices ADD COLUMN ip text, ADD COLUMN user_agent text');
  }

  async down(): Promise<void> {
    this.addSql('ALTER TABLE devices DROP COLUMN ip, DROP COLUMN user_agent');
    this.addSql('DROP TABLE user_ips');
  }
}

import { Migration } from '@mikro-orm/migrations';

/** Users, devices, hashed access tokens and shared-secret registration nonces. */
export class Migration20261122000001Users extends Migration {
  async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE users (
        name text PRIMARY KEY,
        password_hash text,
        admin boolean NOT NULL DEFAULT false,
        deactivated boolean NOT NULL DEFAULT false,
        is_guest boolean NOT NULL DEFAULT false,
        user_type text,
        displayname text,
        creation_ts bigint NOT NULL
      )`);
    this.addSql(`
      CREATE TABLE devices (
        user_id text NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        device_id text NOT NULL,
        display_name text,
        hidden boolean NOT NULL DEFAULT false,
        last_seen_ts bigint,
        PRIMARY KEY (user_id, device_id)
      )`);
    this.addSql(`
      CREATE TABLE access_tokens (
        id bigserial PRIMARY KEY,
        token_hash bytea NOT NULL UNIQUE,
        user_id text NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        device_id text,
        valid_until_ms bigint,
        puppets_user_id text,
        created_ts bigint NOT NULL
      )`);
    this.addSql('CREATE INDEX access_tokens_user_device_idx ON access_tokens (user_id, device_id)');
    this.addSql(`
      CREATE TABLE registration_nonces (
        nonce text PRIMARY KEY,
        created_ts bigint NOT NULL
      )`);
    this.addSql('CREATE INDEX registration_nonces_created_idx ON registration_nonces (created_ts)');
    // Server-wide generated secrets, shared by every instance of a deployment.
    this.addSql('CREATE TABLE server_secrets (name text PRIMARY KEY, value text NOT NULL)');
  }

  async down(): Promise<void> {
    this.addSql('DROP TABLE server_secrets, registration_nonces, access_tokens, devices, users');
  }
}

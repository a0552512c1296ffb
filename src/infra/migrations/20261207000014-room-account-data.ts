import { Migration } from '@mikro-orm/migrations';

/**
 * Per-room account data of local users (`PUT /user/{userId}/rooms/{roomId}/account_data/{type}`).
 * The room is not a foreign key: Synapse stores data for any well-formed room id, known or not.
 * A room purge empties the room's rows (room_id index); the primary key lists a user's data room
 * by room, as `rooms: {room_id: {type: content}}`.
 */
export class Migration20261207000014RoomAccountData extends Migration {
  async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE room_account_data (
        user_id text NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        room_id text NOT NULL,
        account_data_type text NOT NULL,
        content jsonb NOT NULL,
        updated_ts bigint NOT NULL,
        PRIMARY KEY (user_id, room_id, account_data_type)
      )`);
    this.addSql('CREATE INDEX room_account_data_room_id ON room_account_data (room_id)');
  }

  async down(): Promise<void> {
    this.addSql('DROP TABLE room_account_data');
  }
}

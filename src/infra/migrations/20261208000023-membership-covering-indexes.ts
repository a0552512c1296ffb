import { Migration } from '@mikro-orm/migrations';

/**
 * A user's rooms, in room order, from the index alone. `/joined_rooms` and the admin joined rooms
 * and memberships found a user's entries by (user, membership), then read each row for its room id
 * and sorted them: for a user in 216 rooms, 160 buffers and 0.28 ms. With the room id in the index,
 * the entries come in room order and, once the table is vacuumed, without a visit to the rows
 * (6 buffers, 0.07 ms). Each index replaces the one it extends.
 */
export class Migration20261208000023MembershipCoveringIndexes extends Migration {
  async up(): Promise<void> {
    this.addSql('CREATE INDEX local_current_membership_user_room_idx ON local_current_membership (user_id, membership, room_id)');
    this.addSql('DROP INDEX local_current_membership_user_idx');
    this.addSql(
      "CREATE INDEX current_state_events_member_room_idx ON current_state_events (state_key, membership, room_id) WHERE type = 'm.room.member'",
    );
    this.addSql('DROP INDEX current_state_events_member_idx');
  }

  async down(): Promise<void> {
    this.addSql('CREATE INDEX local_current_membership_user_idx ON local_current_membership (user_id, membership)');
    this.addSql('DROP INDEX local_current_membership_user_room_idx');
    this.addSql(
      "CREATE INDEX current_state_events_member_idx ON current_state_events (state_key, membership) WHERE type = 'm.room.member'",
    );
    this.addSql('DROP INDEX current_state_events_member_room_idx');
  }
}

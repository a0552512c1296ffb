import { Migration } from '@mikro-orm/migrations';

/**
 * When each membership event was received, beside the membership. The admin counts of a user's
 * invites sent and rooms joined since a time joined every membership row of the user to its event
 * for `received_ts`: one event probe per row, 1,961 buffers and 16 ms for a user in 375 rooms, and
 * growing with every room. With the time in the membership row, each count is one walk of an
 * index that holds everything it reads. Membership events are state: a history purge keeps them,
 * and a room purge removes both rows together, so the copy cannot drift from the event. The
 * user-only index served only the joined-room count: the new one replaces it.
 */
export class Migration20261208000024MembershipReceivedTs extends Migration {
  async up(): Promise<void> {
    // The indexes it replaces go first, so the backfill does not maintain them; the new ones are built after it.
    this.addSql('DROP INDEX room_memberships_invite_sender_idx, room_memberships_user_idx');
    this.addSql('ALTER TABLE room_memberships ADD COLUMN received_ts bigint');
    this.addSql('UPDATE room_memberships rm SET received_ts = e.received_ts FROM events e WHERE e.event_id = rm.event_id');
    this.addSql(
      "CREATE INDEX room_memberships_join_user_ts_idx ON room_memberships (user_id, received_ts) INCLUDE (room_id) WHERE membership = 'join'",
    );
    this.addSql("CREATE INDEX room_memberships_invite_sender_ts_idx ON room_memberships (sender, received_ts) WHERE membership = 'invite'");
  }

  async down(): Promise<void> {
    this.addSql('CREATE INDEX room_memberships_user_idx ON room_memberships (user_id)');
    this.addSql("CREATE INDEX room_memberships_invite_sender_idx ON room_memberships (sender) WHERE membership = 'invite'");
    this.addSql('DROP INDEX room_memberships_invite_sender_ts_idx, room_memberships_join_user_ts_idx');
    this.addSql('ALTER TABLE room_memberships DROP COLUMN received_ts');
  }
}

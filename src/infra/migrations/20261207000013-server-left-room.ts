import { Migration } from '@mikro-orm/migrations';

/**
 * When the server leaves a room (its last local joined member leaves, is kicked or banned), the
 * room's current state is deleted, as Synapse does: `current_state_events` loses the room's rows
 * and the state columns of `room_stats` become null (membership counts 0; `state_events`, the
 * version, creator and directory flag stay, as in Synapse). The history, local memberships and
 * aliases stay. Readers of current state then see a room the server is not in: empty state,
 * "Server not in room", no name to search or sort by.
 *
 * Design notes:
 * - A statement-level trigger on `local_current_membership` with transition tables: the event
 *   write that moves the last joiner away is one statement (its current-state and stats updates
 *   included), and the trigger runs after it, once per statement however many users left.
 * - Only a move from `join` triggers it, so rooms created without a local member (imports of
 *   remote rooms, out-of-band invites) are left alone.
 * - Rooms the server had already left before this migration are brought in line once.
 */
export class Migration20261207000013ServerLeftRoom extends Migration {
  async up(): Promise<void> {
    this.addSql(`
      CREATE FUNCTION sra_forget_current_state(left_rooms text[]) RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM current_state_events WHERE room_id = ANY(left_rooms);
        UPDATE room_stats SET
          name = NULL, canonical_alias = NULL, topic = NULL, avatar = NULL, join_rules = NULL, history_visibility = NULL,
          guest_access = NULL, encryption = NULL, tombstone_successor = NULL, room_type = NULL, federatable = true,
          left_members = left_members + joined_members + invited_members + banned_members + knocked_members,
          joined_members = 0, joined_local_members = 0, invited_members = 0, banned_members = 0, knocked_members = 0
         WHERE room_id = ANY(left_rooms);
      END $$`);
    this.addSql(`
      CREATE FUNCTION sra_server_left_room() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        left_rooms text[];
      BEGIN
        SELECT array_agg(DISTINCT o.room_id ORDER BY o.room_id) INTO left_rooms
          FROM old_rows o JOIN new_rows n ON n.room_id = o.room_id AND n.user_id = o.user_id
         WHERE o.membership = 'join' AND n.membership <> 'join'
           AND NOT EXISTS (SELECT 1 FROM local_current_membership m WHERE m.room_id = o.room_id AND m.membership = 'join');
        IF left_rooms IS NOT NULL THEN
          PERFORM sra_forget_current_state(left_rooms);
        END IF;
        RETURN NULL;
      END $$`);
    this.addSql(`
      CREATE TRIGGER local_current_membership_server_left AFTER UPDATE ON local_current_membership
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION sra_server_left_room()`);
    // Rooms left before this migration: a local member was once joined (a non-outlier membership
    // event of a local user exists) and none is now.
    this.addSql(`
      SELECT sra_forget_current_state(array_agg(r.room_id)) FROM rooms r
       WHERE EXISTS (SELECT 1 FROM current_state_events c WHERE c.room_id = r.room_id)
         AND EXISTS (SELECT 1 FROM local_current_membership m JOIN events e ON e.event_id = m.event_id AND NOT e.outlier WHERE m.room_id = r.room_id)
         AND NOT EXISTS (SELECT 1 FROM local_current_membership m WHERE m.room_id = r.room_id AND m.membership = 'join')`);
  }

  async down(): Promise<void> {
    this.addSql('DROP TRIGGER local_current_membership_server_left ON local_current_membership');
    this.addSql('DROP FUNCTION sra_server_left_room(), sra_forget_current_state(text[])');
  }
}

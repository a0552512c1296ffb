import { Migration } from '@mikro-orm/migrations';

/**
 * Rooms, events and everything derived from them.
 *
 * Design notes:
 * - `events.stream_ordering` comes from one server-wide sequence; `rooms.last_depth` is bumped
 *   under the room row's lock by every send, so depth is gap-free per room and sends to one room
 *   commit in stream order.
 * - Room-scoped tables reference `rooms` (checked once, when the rooms row is deleted last by a
 *   purge) and carry an indexed `room_id`, so purges delete set-based by room. Nothing references
 *   `events` by foreign key: per-row RI triggers would turn a million-event purge into a million
 *   index probes per referencing table.
 * - `room_stats` is the one denormalised row per room that listing and sorting read; every sort
 *   column has a (column, room_id) index, and name/alias search has trigram indexes.
 * - `blocked_rooms` and `room_retention` deliberately have no foreign key: both outlive purges.
 */
export class Migration20261122000002RoomsEvents extends Migration {
  async up(): Promise<void> {
    this.addSql('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    this.addSql('CREATE SEQUENCE events_stream_seq');
    this.addSql(`
      CREATE TABLE rooms (
        room_id text PRIMARY KEY,
        room_version text NOT NULL,
        creator text,
        room_type text,
        is_public boolean NOT NULL DEFAULT false,
        created_ts bigint NOT NULL,
        last_depth bigint NOT NULL DEFAULT 0
      )`);
    this.addSql(`
      CREATE TABLE events (
        stream_ordering bigint PRIMARY KEY,
        event_id text NOT NULL UNIQUE,
        room_id text NOT NULL REFERENCES rooms(room_id),
        type text NOT NULL,
        state_key text,
        sender text NOT NULL,
        content jsonb NOT NULL,
        origin_server_ts bigint NOT NULL,
        received_ts bigint NOT NULL,
        depth bigint NOT NULL,
        prev_events text[] NOT NULL DEFAULT '{}',
        auth_events text[] NOT NULL DEFAULT '{}',
        redacts text,
        replaces_state text,
        outlier boolean NOT NULL DEFAULT false,
        rejected_reason text,
        soft_failed boolean NOT NULL DEFAULT false,
        redacted_by text,
        txn_scope text,
        txn_id text,
        contains_url boolean NOT NULL DEFAULT false,
        labels text[]
      )`);
    this.addSql('CREATE INDEX events_room_topo_idx ON events (room_id, depth, stream_ordering)');
    this.addSql('CREATE INDEX events_room_stream_idx ON events (room_id, stream_ordering)');
    this.addSql('CREATE INDEX events_room_state_idx ON events (room_id, type, state_key, stream_ordering) WHERE state_key IS NOT NULL');
    this.addSql('CREATE INDEX events_room_ts_idx ON events (room_id, origin_server_ts)');
    this.addSql('CREATE INDEX events_received_ts_idx ON events (received_ts, stream_ordering)');
    this.addSql('CREATE INDEX events_redacts_idx ON events (redacts) WHERE redacts IS NOT NULL');
    this.addSql('CREATE UNIQUE INDEX events_txn_idx ON events (room_id, sender, txn_scope, txn_id) WHERE txn_id IS NOT NULL');

    this.addSql(`
      CREATE TABLE current_state_events (
        room_id text NOT NULL REFERENCES rooms(room_id),
        type text NOT NULL,
        state_key text NOT NULL,
        event_id text NOT NULL,
        membership text,
        PRIMARY KEY (room_id, type, state_key)
      )`);
    this.addSql('CREATE INDEX current_state_events_event_idx ON current_state_events (event_id)');
    this.addSql(
      "CREATE INDEX current_state_events_member_idx ON current_state_events (state_key, membership) WHERE type = 'm.room.member'",
    );

    this.addSql(`
      CREATE TABLE room_memberships (
        event_id text PRIMARY KEY,
        room_id text NOT NULL REFERENCES rooms(room_id),
        user_id text NOT NULL,
        sender text NOT NULL,
        membership text NOT NULL,
        display_name text,
        avatar_url text,
        stream_ordering bigint NOT NULL,
        depth bigint NOT NULL
      )`);
    this.addSql('CREATE INDEX room_memberships_room_user_idx ON room_memberships (room_id, user_id, stream_ordering)');
    this.addSql('CREATE INDEX room_memberships_user_idx ON room_memberships (user_id)');

    this.addSql(`
      CREATE TABLE local_current_membership (
        room_id text NOT NULL REFERENCES rooms(room_id),
        user_id text NOT NULL,
        event_id text NOT NULL,
        membership text NOT NULL,
        forgotten boolean NOT NULL DEFAULT false,
        PRIMARY KEY (room_id, user_id)
      )`);
    this.addSql('CREATE INDEX local_current_membership_user_idx ON local_current_membership (user_id, membership)');

    this.addSql(`
      CREATE TABLE room_aliases (
        room_alias text PRIMARY KEY,
        room_id text NOT NULL REFERENCES rooms(room_id),
        creator text NOT NULL
      )`);
    this.addSql('CREATE INDEX room_aliases_room_idx ON room_aliases (room_id)');

    this.addSql(`
      CREATE TABLE blocked_rooms (
        room_id text PRIMARY KEY,
        user_id text NOT NULL
      )`);

    this.addSql(`
      CREATE TABLE event_forward_extremities (
        room_id text NOT NULL REFERENCES rooms(room_id),
        event_id text NOT NULL,
        PRIMARY KEY (room_id, event_id)
      )`);
    this.addSql(`
      CREATE TABLE event_backward_extremities (
        room_id text NOT NULL REFERENCES rooms(room_id),
        event_id text NOT NULL,
        PRIMARY KEY (room_id, event_id)
      )`);

    this.addSql(`
      CREATE TABLE event_relations (
        event_id text PRIMARY KEY,
        room_id text NOT NULL REFERENCES rooms(room_id),
        relates_to_id text NOT NULL,
        relation_type text NOT NULL,
        aggregation_key text,
        sender text NOT NULL,
        stream_ordering bigint NOT NULL
      )`);
    this.addSql('CREATE INDEX event_relations_target_idx ON event_relations (relates_to_id, relation_type, sender)');
    this.addSql('CREATE INDEX event_relations_room_idx ON event_relations (room_id)');

    this.addSql(`
      CREATE TABLE room_retention (
        event_id text PRIMARY KEY,
        room_id text NOT NULL,
        min_lifetime bigint,
        max_lifetime bigint
      )`);
    this.addSql('CREATE INDEX room_retention_room_idx ON room_retention (room_id)');
    this.addSql('CREATE INDEX room_retention_max_idx ON room_retention (max_lifetime)');

    this.addSql(`
      CREATE TABLE room_stats (
        room_id text PRIMARY KEY REFERENCES rooms(room_id),
        name text,
        canonical_alias text,
        topic text,
        avatar text,
        join_rules text,
        history_visibility text,
        guest_access text,
        encryption text,
        federatable boolean NOT NULL DEFAULT true,
        is_public boolean NOT NULL DEFAULT false,
        room_version text,
        creator text,
        room_type text,
        tombstone_successor text,
        joined_members integer NOT NULL DEFAULT 0,
        joined_local_members integer NOT NULL DEFAULT 0,
        invited_members integer NOT NULL DEFAULT 0,
        left_members integer NOT NULL DEFAULT 0,
        banned_members integer NOT NULL DEFAULT 0,
        knocked_members integer NOT NULL DEFAULT 0,
        state_events integer NOT NULL DEFAULT 0
      )`);
    for (const col of [
      'name',
      'canonical_alias',
      'joined_members',
      'joined_local_members',
      'room_version',
      'creator',
      'encryption',
      'federatable',
      'is_public',
      'join_rules',
      'guest_access',
      'history_visibility',
      'state_events',
    ]) {
      this.addSql(`CREATE INDEX room_stats_${col}_idx ON room_stats (${col}, room_id)`);
    }
    this.addSql('CREATE INDEX room_stats_name_trgm_idx ON room_stats USING gin (lower(name) gin_trgm_ops)');
    this.addSql('CREATE INDEX room_stats_alias_trgm_idx ON room_stats USING gin (lower(canonical_alias) gin_trgm_ops)');
  }

  async down(): Promise<void> {
    this.addSql(
      'DROP TABLE room_stats, room_retention, event_relations, event_backward_extremities, event_forward_extremities, blocked_rooms, room_aliases, local_current_membership, room_memberships, current_state_events, events, rooms',
    );
    this.addSql('DROP SEQUENCE events_stream_seq');
  }
}

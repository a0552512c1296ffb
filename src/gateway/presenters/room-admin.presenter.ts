/**
 * Synapse's JSON for the room admin API, from RoomAdminService messages (absent optional fields
 * become JSON null, as Synapse renders them).
 */
import type { RoomDeleteTask, RoomDetails, RoomSummary, ShutdownResult } from '../../../gen/synapse/admin/v1/room_admin';
import { ROOM_DELETE_STATUS } from '../../grpc/contract-words';

export function roomSummaryJson(s: RoomSummary | undefined): Record<string, unknown> {
  if (!s) return {};
  return {
    room_id: s.roomId,
    name: s.name ?? null,
    canonical_alias: s.canonicalAlias ?? null,
    joined_members: s.joinedMembers,
    joined_local_members: s.joinedLocalMembers,
    version: s.version ?? null,
    creator: s.creator ?? null,
    encryption: s.encryption ?? null,
    federatable: s.federatable,
    public: s.public,
    join_rules: s.joinRules ?? null,
    guest_access: s.guestAccess ?? null,
    history_visibility: s.historyVisibility ?? null,
    state_events: s.stateEvents,
    room_type: s.roomType ?? null,
  };
}

export function roomDetailsJson(d: RoomDetails | undefined): Record<string, unknown> {
  if (!d) return {};
  return {
    ...roomSummaryJson(d.summary),
    topic: d.topic ?? null,
    avatar: d.avatar ?? null,
    joined_local_devices: d.joinedLocalDevices,
    forgotten: d.forgotten,
    tombstoned: d.tombstoned,
    replacement_room: d.replacementRoom ?? null,
  };
}

export function shutdownResultJson(r: ShutdownResult | undefined): Record<string, unknown> {
  return {
    kicked_users: r?.kickedUsers ?? [],
    failed_to_kick_users: r?.failedToKickUsers ?? [],
    local_aliases: r?.localAliases ?? [],
    new_room_id: r?.newRoomId ?? null,
  };
}

/**
 * One delete status item: Synapse's `delete_id`, `room_id`, `status`, `shutdown_room`, plus
 * `progress` while the task runs and `error` when it failed (neither is sent otherwise).
 */
export function deleteTaskJson(t: RoomDeleteTask | undefined): Record<string, unknown> {
  if (!t) return {};
  const item: Record<string, unknown> = {
    delete_id: t.deleteId,
    room_id: t.roomId,
    status: ROOM_DELETE_STATUS.word(t.status) ?? 'active',
    shutdown_room: t.shutdownRoom ? shutdownResultJson(t.shutdownRoom) : null,
  };
  if (t.progress) item.progress = t.progress;
  if (t.error) item.error = t.error;
  return item;
}

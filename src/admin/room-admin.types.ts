/**
 * Domain types of the room admin module (independent of gRPC). Field names follow Synapse's JSON
 * so that the mapping layers stay trivial.
 */

/** Sort keys of the room list (Synapse's `order_by` values, including the deprecated aliases). */
export const ROOM_ORDER_BY = [
  'alphabetical',
  'size',
  'name',
  'canonical_alias',
  'joined_members',
  'joined_local_members',
  'version',
  'creator',
  'encryption',
  'federatable',
  'public',
  'join_rules',
  'guest_access',
  'history_visibility',
  'state_events',
] as const;
export type RoomOrderBy = (typeof ROOM_ORDER_BY)[number];

export type Dir = 'f' | 'b';

export interface ListRoomsQuery {
  from: number;
  limit: number;
  orderBy: RoomOrderBy;
  dir: Dir;
  searchTerm: string | null;
  publicRooms: boolean | null;
  emptyRooms: boolean | null;
}

export interface RoomSummary {
  room_id: string;
  name: string | null;
  canonical_alias: string | null;
  joined_members: number;
  joined_local_members: number;
  version: string | null;
  creator: string | null;
  encryption: string | null;
  federatable: boolean;
  public: boolean;
  join_rules: string | null;
  guest_access: string | null;
  history_visibility: string | null;
  state_events: number;
  room_type: string | null;
}

export interface RoomListPage {
  rooms: RoomSummary[];
  offset: number;
  total_rooms: number;
  next_batch?: number;
  prev_batch?: number;
}

export interface RoomDetails extends RoomSummary {
  topic: string | null;
  avatar: string | null;
  joined_local_devices: number;
  forgotten: boolean;
  tombstoned: boolean;
  replacement_room: string | null;
}

export interface ForwardExtremity {
  event_id: string;
  state_group: number | null;
  depth: number;
  received_ts: number;
}

/** Synapse's ShutdownRoomResponse; also the checkpoint of a resumable shutdown. */
export interface ShutdownResult {
  kicked_users: string[];
  failed_to_kick_users: string[];
  local_aliases: string[];
  new_room_id: string | null;
}

/** Synapse's ShutdownRoomParams (persisted verbatim as the params of `shutdown_and_purge_room`). */
export interface ShutdownParams {
  requester_user_id: string | null;
  new_room_user_id: string | null;
  new_room_name: string | null;
  message: string | null;
  block: boolean;
  purge: boolean;
  force_purge: boolean;
}

/** The options of the delete calls, before defaults are applied. */
export interface DeleteOptions {
  newRoomUserId?: string | null;
  roomName?: string | null;
  message?: string | null;
  block?: boolean | null;
  purge?: boolean | null;
  forcePurge?: boolean | null;
}

export type DeleteTaskStatus = 'scheduled' | 'active' | 'complete' | 'failed' | 'cancelled';

/** One delete task as the status endpoints show it. */
export interface DeleteTaskView {
  delete_id: string;
  status: DeleteTaskStatus;
  room_id: string;
  shutdown_room: ShutdownResult | null;
  progress: Record<string, unknown> | null;
  error: string | null;
}

export const emptyShutdownResult = (): ShutdownResult => ({ kicked_users: [], failed_to_kick_users: [], local_aliases: [], new_room_id: null });

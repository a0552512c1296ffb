/**
 * Domain types of the room admin module (independent of gRPC), in camel case; the REST gateway's
 * presenters write Synapse's snake-case JSON. The records stored as task params and results
 * (ShutdownParams, ShutdownResult) keep Synapse's field names, as Synapse stores them.
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
  roomId: string;
  name: string | null;
  canonicalAlias: string | null;
  joinedMembers: number;
  joinedLocalMembers: number;
  version: string | null;
  creator: string | null;
  encryption: string | null;
  federatable: boolean;
  public: boolean;
  joinRules: string | null;
  guestAccess: string | null;
  historyVisibility: string | null;
  stateEvents: number;
  roomType: string | null;
}

export interface RoomListPage {
  rooms: RoomSummary[];
  offset: number;
  totalRooms: number;
  nextBatch?: number;
  prevBatch?: number;
}

export interface RoomDetails extends RoomSummary {
  topic: string | null;
  avatar: string | null;
  joinedLocalDevices: number;
  forgotten: boolean;
  tombstoned: boolean;
  replacementRoom: string | null;
}

export interface ForwardExtremity {
  eventId: string;
  stateGroup: number | null;
  depth: number;
  receivedTs: number;
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

/**
 * One delete task as the status endpoints show it. `shutdownRoom` is the task's stored result,
 * Synapse's ShutdownRoomResponse record.
 */
export interface DeleteTaskView {
  deleteId: string;
  status: DeleteTaskStatus;
  roomId: string;
  shutdownRoom: ShutdownResult | null;
  progress: Record<string, unknown> | null;
  error: string | null;
}

/** Whether a room is blocked, and by whom when known. */
export interface BlockStatus {
  block: boolean;
  userId?: string;
}

/** The event closest to a timestamp. */
export type { EventAtTimestamp } from '../rooms/timestamp-lookup';

export const emptyShutdownResult = (): ShutdownResult => ({
  kicked_users: [],
  failed_to_kick_users: [],
  local_aliases: [],
  new_room_id: null,
});

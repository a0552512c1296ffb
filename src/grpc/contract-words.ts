/**
 * The contract's enums and the words Synapse uses for them, one table per enum. The gRPC handlers
 * turn enums into the services' words with them, and the REST gateway turns Synapse's query and
 * body words into enums and enums back into its JSON with the same tables (the gateway may use
 * these contract helpers; it never imports the services).
 */
import { Direction } from '../../gen/synapse/admin/v1/common';
import { PurgeStatus } from '../../gen/synapse/admin/v1/pagination';
import { RoomDeleteStatus, RoomOrderBy } from '../../gen/synapse/admin/v1/room_admin';
import { MembershipAction, RoomVisibility } from '../../gen/synapse/admin/v1/rooms';
import { TaskStatus } from '../../gen/synapse/admin/v1/task_scheduler';
import { UserOrderBy } from '../../gen/synapse/admin/v1/user_admin_reads';

/** A two-way table between one proto enum and Synapse's words for its values. */
export class EnumWords<W extends string, E extends number> {
  private readonly byWord: Map<string, E>;
  private readonly byValue: Map<number, W>;

  constructor(readonly pairs: readonly (readonly [W, E])[]) {
    this.byWord = new Map(pairs);
    this.byValue = new Map(pairs.map(([w, v]) => [v, w]));
  }

  /** The words, in the table's order (Synapse's order where its errors list them). */
  get words(): W[] {
    return this.pairs.map(([w]) => w);
  }

  /** The enum value of a word. */
  value(word: W): E {
    return this.byWord.get(word)!;
  }

  /** The enum value of any string, undefined when it names none. */
  valueOf(word: string): E | undefined {
    return this.byWord.get(word);
  }

  /** The word of an enum value, undefined for UNSPECIFIED and values this table does not know. */
  word(value: number): W | undefined {
    return this.byValue.get(value);
  }
}

export type TaskStatusWord = 'scheduled' | 'active' | 'complete' | 'failed' | 'cancelled';

/** A scheduled task's status (Synapse's TaskStatus). */
export const TASK_STATUS = new EnumWords<TaskStatusWord, TaskStatus>([
  ['scheduled', TaskStatus.TASK_STATUS_SCHEDULED],
  ['active', TaskStatus.TASK_STATUS_ACTIVE],
  ['complete', TaskStatus.TASK_STATUS_COMPLETE],
  ['failed', TaskStatus.TASK_STATUS_FAILED],
  ['cancelled', TaskStatus.TASK_STATUS_CANCELLED],
]);

/** A background room delete's status (the status of its `shutdown_and_purge_room` task). */
export const ROOM_DELETE_STATUS = new EnumWords<TaskStatusWord, RoomDeleteStatus>([
  ['scheduled', RoomDeleteStatus.ROOM_DELETE_STATUS_SCHEDULED],
  ['active', RoomDeleteStatus.ROOM_DELETE_STATUS_ACTIVE],
  ['complete', RoomDeleteStatus.ROOM_DELETE_STATUS_COMPLETE],
  ['failed', RoomDeleteStatus.ROOM_DELETE_STATUS_FAILED],
  ['cancelled', RoomDeleteStatus.ROOM_DELETE_STATUS_CANCELLED],
]);

/** A history purge's status. Synapse has no `cancelled` purge: its REST body says `failed`. */
export const PURGE_STATUS = new EnumWords<Exclude<TaskStatusWord, 'scheduled'>, PurgeStatus>([
  ['active', PurgeStatus.PURGE_STATUS_ACTIVE],
  ['complete', PurgeStatus.PURGE_STATUS_COMPLETE],
  ['failed', PurgeStatus.PURGE_STATUS_FAILED],
  ['cancelled', PurgeStatus.PURGE_STATUS_CANCELLED],
]);

/** Pagination direction: Synapse's `dir` parameter. */
export const DIRECTION = new EnumWords<'b' | 'f', Direction>([
  ['b', Direction.DIRECTION_BACKWARDS],
  ['f', Direction.DIRECTION_FORWARDS],
]);

/** `dir` of a request: backwards or, for anything else (UNSPECIFIED included), forwards. */
export const dirWord = (d: Direction): 'b' | 'f' => (d === Direction.DIRECTION_BACKWARDS ? 'b' : 'f');

/** The membership change of a membership request (the client API path's last segment). */
export const MEMBERSHIP_ACTION = new EnumWords<'join' | 'leave' | 'invite' | 'kick' | 'ban' | 'unban' | 'knock', MembershipAction>([
  ['join', MembershipAction.MEMBERSHIP_ACTION_JOIN],
  ['leave', MembershipAction.MEMBERSHIP_ACTION_LEAVE],
  ['invite', MembershipAction.MEMBERSHIP_ACTION_INVITE],
  ['kick', MembershipAction.MEMBERSHIP_ACTION_KICK],
  ['ban', MembershipAction.MEMBERSHIP_ACTION_BAN],
  ['unban', MembershipAction.MEMBERSHIP_ACTION_UNBAN],
  ['knock', MembershipAction.MEMBERSHIP_ACTION_KNOCK],
]);

/** A room's visibility in the directory. */
export const ROOM_VISIBILITY = new EnumWords<'public' | 'private', RoomVisibility>([
  ['public', RoomVisibility.ROOM_VISIBILITY_PUBLIC],
  ['private', RoomVisibility.ROOM_VISIBILITY_PRIVATE],
]);

/** The room list's `order_by` values, in Synapse's error message order (deprecated aliases included). */
export const ROOM_ORDER_BY = new EnumWords([
  ['alphabetical', RoomOrderBy.ROOM_ORDER_BY_ALPHABETICAL],
  ['size', RoomOrderBy.ROOM_ORDER_BY_SIZE],
  ['name', RoomOrderBy.ROOM_ORDER_BY_NAME],
  ['canonical_alias', RoomOrderBy.ROOM_ORDER_BY_CANONICAL_ALIAS],
  ['joined_members', RoomOrderBy.ROOM_ORDER_BY_JOINED_MEMBERS],
  ['joined_local_members', RoomOrderBy.ROOM_ORDER_BY_JOINED_LOCAL_MEMBERS],
  ['version', RoomOrderBy.ROOM_ORDER_BY_VERSION],
  ['creator', RoomOrderBy.ROOM_ORDER_BY_CREATOR],
  ['encryption', RoomOrderBy.ROOM_ORDER_BY_ENCRYPTION],
  ['federatable', RoomOrderBy.ROOM_ORDER_BY_FEDERATABLE],
  ['public', RoomOrderBy.ROOM_ORDER_BY_PUBLIC],
  ['join_rules', RoomOrderBy.ROOM_ORDER_BY_JOIN_RULES],
  ['guest_access', RoomOrderBy.ROOM_ORDER_BY_GUEST_ACCESS],
  ['history_visibility', RoomOrderBy.ROOM_ORDER_BY_HISTORY_VISIBILITY],
  ['state_events', RoomOrderBy.ROOM_ORDER_BY_STATE_EVENTS],
] as const);

/** The user list's `order_by` values, in Synapse's error message order. */
export const USER_ORDER_BY = new EnumWords([
  ['name', UserOrderBy.USER_ORDER_BY_NAME],
  ['displayname', UserOrderBy.USER_ORDER_BY_DISPLAYNAME],
  ['is_guest', UserOrderBy.USER_ORDER_BY_IS_GUEST],
  ['admin', UserOrderBy.USER_ORDER_BY_ADMIN],
  ['deactivated', UserOrderBy.USER_ORDER_BY_DEACTIVATED],
  ['user_type', UserOrderBy.USER_ORDER_BY_USER_TYPE],
  ['avatar_url', UserOrderBy.USER_ORDER_BY_AVATAR_URL],
  ['shadow_banned', UserOrderBy.USER_ORDER_BY_SHADOW_BANNED],
  ['creation_ts', UserOrderBy.USER_ORDER_BY_CREATION_TS],
  ['last_seen_ts', UserOrderBy.USER_ORDER_BY_LAST_SEEN_TS],
  ['locked', UserOrderBy.USER_ORDER_BY_LOCKED],
] as const);

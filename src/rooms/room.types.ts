/**
 * Public types of the rooms module: what other modules pass to and get back from RoomService.
 *
 * Glossary:
 * - draft: an event before persistence (type, state key, sender, content); the persister gives
 *   it an id, a depth, a stream ordering, prev/auth events.
 * - depth: gap-free topological position of an event inside its room (1 = the create event).
 * - stream ordering: server-wide, strictly increasing position of an event (sequence
 *   `events_stream_seq`); inside one room it increases with depth.
 * - txn scope: the device id of the sender's access token, or `token:<id>` for a device-less
 *   token; (room, sender, scope, txn id) identifies an idempotent send.
 */

export type Json = Record<string, unknown>;

export type Membership = 'join' | 'leave' | 'invite' | 'ban' | 'knock';
export const MEMBERSHIPS: readonly Membership[] = ['join', 'leave', 'invite', 'ban', 'knock'];

/** Membership actions of the client API (`kick` and `unban` produce `leave` events). */
export type MembershipAction = 'join' | 'leave' | 'invite' | 'kick' | 'ban' | 'unban' | 'knock';

export type RoomPreset = 'private_chat' | 'public_chat' | 'trusted_private_chat';
export const ROOM_PRESETS: readonly RoomPreset[] = ['private_chat', 'public_chat', 'trusted_private_chat'];

export interface InitialStateEvent {
  type: string;
  /** Defaults to "". */
  stateKey?: string;
  content: Json;
}

/** The body of `POST /createRoom`, camel-cased. Every field is optional, as in the spec. */
export interface CreateRoomOptions {
  preset?: string;
  /** `public` publishes the room in the directory; default `private`. */
  visibility?: string;
  name?: string;
  topic?: string;
  /** Local part of an alias to create (`wombat`, not `#wombat:server`). */
  roomAliasName?: string;
  invite?: string[];
  initialState?: InitialStateEvent[];
  creationContent?: Json;
  powerLevelContentOverride?: Json;
  roomVersion?: string;
  isDirect?: boolean;
  /** Overrides the creator's join event content (displayname/avatar_url). */
  creatorJoinProfile?: Json;
}

export interface CreateRoomResult {
  roomId: string;
  /** Present when `roomAliasName` was given. */
  roomAlias?: string;
}

/** Who sends an event and from which device/token (for idempotency and `transaction_id`). */
export interface SenderSession {
  deviceId?: string | null;
  tokenId?: number | null;
}

export interface SendEventInput extends SenderSession {
  type: string;
  content: Json;
  /** Present (possibly "") for state events. */
  stateKey?: string | null;
  /** Client transaction id: a repeated (sender, device-or-token, txnId) returns the first event. */
  txnId?: string | null;
  /** For `m.room.redaction` (room versions < 11 keep it top-level; 11 moves it into content). */
  redacts?: string | null;
  /** Skips the "same state, same sender" deduplication of state events. */
  allowDuplicateState?: boolean;
  /** A redaction may target only the sender's own events (a suspended sender): 403 M_USER_SUSPENDED otherwise. */
  onlyOwnRedactions?: boolean;
}

export interface SendEventResult {
  eventId: string;
  streamOrdering: number;
  depth: number;
  /** True when an earlier event was returned instead of creating one (txn or identical state). */
  deduplicated: boolean;
}

export interface MembershipOptions extends SenderSession {
  reason?: string;
  txnId?: string | null;
  /** Extra content keys (e.g. displayname) for the member event. */
  content?: Json;
  /** Skip the blocked-room check (internal callers such as shutdown). */
  ignoreBlock?: boolean;
  /** The requester is a guest (joins then need `guest_access: can_join`). */
  isGuest?: boolean;
}

/** An event as stored (one row of `events`). */
export interface StoredEvent {
  eventId: string;
  roomId: string;
  type: string;
  stateKey: string | null;
  sender: string;
  content: Json;
  originServerTs: number;
  receivedTs: number;
  depth: number;
  streamOrdering: number;
  prevEvents: string[];
  authEvents: string[];
  redacts: string | null;
  replacesState: string | null;
  outlier: boolean;
  rejectedReason: string | null;
  softFailed: boolean;
  redactedBy: string | null;
  txnScope: string | null;
  txnId: string | null;
}

export interface RoomInfo {
  roomId: string;
  roomVersion: string;
  creator: string | null;
  roomType: string | null;
  isPublic: boolean;
  createdTs: number;
  lastDepth: number;
}

export interface MembershipInfo {
  membership: Membership;
  eventId: string;
  forgotten: boolean;
}

export interface JoinedMember {
  userId: string;
  displayName: string | null;
  avatarUrl: string | null;
}

export interface AliasInfo {
  roomId: string;
  servers: string[];
}

export interface BlockInfo {
  blocked: boolean;
  /** The first blocker (kept on re-block), when blocked. */
  userId: string | null;
}

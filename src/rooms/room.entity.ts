/**
 * Entities for every table of migration 20261122000002-rooms-events. Writes of events and their
 * derived rows go through the event persister's set-based SQL (one statement per table per batch);
 * these entities exist so other modules can read (and purge) with the ORM where that is simpler.
 */
import { Entity, PrimaryKey, Property, OptionalProps, BigIntType } from '@mikro-orm/postgresql';

type Json = Record<string, unknown>;

@Entity({ tableName: 'rooms' })
export class RoomEntity {
  [OptionalProps]?: 'creator' | 'roomType' | 'isPublic' | 'lastDepth';
  @PrimaryKey({ type: 'text' }) roomId!: string;
  @Property({ type: 'text' }) roomVersion!: string;
  @Property({ type: 'text', nullable: true }) creator: string | null = null;
  @Property({ type: 'text', nullable: true }) roomType: string | null = null;
  @Property({ type: 'boolean' }) isPublic = false;
  @Property({ type: new BigIntType('number') }) createdTs!: number;
  @Property({ type: new BigIntType('number') }) lastDepth = 0;
}

@Entity({ tableName: 'events' })
export class EventEntity {
  [OptionalProps]?: 'prevEvents' | 'authEvents' | 'redacts' | 'replacesState' | 'outlier' | 'rejectedReason' | 'softFailed' | 'redactedBy' | 'txnScope' | 'txnId' | 'containsUrl' | 'labels' | 'stateKey';
  @PrimaryKey({ type: new BigIntType('number') }) streamOrdering!: number;
  @Property({ type: 'text', unique: true }) eventId!: string;
  @Property({ type: 'text' }) roomId!: string;
  @Property({ type: 'text' }) type!: string;
  @Property({ type: 'text', nullable: true }) stateKey: string | null = null;
  @Property({ type: 'text' }) sender!: string;
  @Property({ type: 'json' }) content!: Json;
  @Property({ type: new BigIntType('number') }) originServerTs!: number;
  @Property({ type: new BigIntType('number') }) receivedTs!: number;
  @Property({ type: new BigIntType('number') }) depth!: number;
  @Property({ type: 'text[]' }) prevEvents: string[] = [];
  @Property({ type: 'text[]' }) authEvents: string[] = [];
  @Property({ type: 'text', nullable: true }) redacts: string | null = null;
  @Property({ type: 'text', nullable: true }) replacesState: string | null = null;
  @Property({ type: 'boolean' }) outlier = false;
  @Property({ type: 'text', nullable: true }) rejectedReason: string | null = null;
  @Property({ type: 'boolean' }) softFailed = false;
  @Property({ type: 'text', nullable: true }) redactedBy: string | null = null;
  @Property({ type: 'text', nullable: true }) txnScope: string | null = null;
  @Property({ type: 'text', nullable: true }) txnId: string | null = null;
  @Property({ type: 'boolean' }) containsUrl = false;
  @Property({ type: 'text[]', nullable: true }) labels: string[] | null = null;
}

@Entity({ tableName: 'current_state_events' })
export class CurrentStateEventEntity {
  [OptionalProps]?: 'membership';
  @PrimaryKey({ type: 'text' }) roomId!: string;
  @PrimaryKey({ type: 'text' }) type!: string;
  @PrimaryKey({ type: 'text' }) stateKey!: string;
  @Property({ type: 'text' }) eventId!: string;
  @Property({ type: 'text', nullable: true }) membership: string | null = null;
}

@Entity({ tableName: 'room_memberships' })
export class RoomMembershipEntity {
  [OptionalProps]?: 'displayName' | 'avatarUrl';
  @PrimaryKey({ type: 'text' }) eventId!: string;
  @Property({ type: 'text' }) roomId!: string;
  @Property({ type: 'text' }) userId!: string;
  @Property({ type: 'text' }) sender!: string;
  @Property({ type: 'text' }) membership!: string;
  @Property({ type: 'text', nullable: true }) displayName: string | null = null;
  @Property({ type: 'text', nullable: true }) avatarUrl: string | null = null;
  @Property({ type: new BigIntType('number') }) streamOrdering!: number;
  @Property({ type: new BigIntType('number') }) depth!: number;
}

@Entity({ tableName: 'local_current_membership' })
export class LocalCurrentMembershipEntity {
  [OptionalProps]?: 'forgotten';
  @PrimaryKey({ type: 'text' }) roomId!: string;
  @PrimaryKey({ type: 'text' }) userId!: string;
  @Property({ type: 'text' }) eventId!: string;
  @Property({ type: 'text' }) membership!: string;
  @Property({ type: 'boolean' }) forgotten = false;
}

@Entity({ tableName: 'room_aliases' })
export class RoomAliasEntity {
  @PrimaryKey({ type: 'text' }) roomAlias!: string;
  @Property({ type: 'text' }) roomId!: string;
  @Property({ type: 'text' }) creator!: string;
}

@Entity({ tableName: 'blocked_rooms' })
export class BlockedRoomEntity {
  @PrimaryKey({ type: 'text' }) roomId!: string;
  @Property({ type: 'text' }) userId!: string;
}

@Entity({ tableName: 'event_forward_extremities' })
export class ForwardExtremityEntity {
  @PrimaryKey({ type: 'text' }) roomId!: string;
  @PrimaryKey({ type: 'text' }) eventId!: string;
}

@Entity({ tableName: 'event_backward_extremities' })
export class BackwardExtremityEntity {
  @PrimaryKey({ type: 'text' }) roomId!: string;
  @PrimaryKey({ type: 'text' }) eventId!: string;
}

@Entity({ tableName: 'event_relations' })
export class EventRelationEntity {
  [OptionalProps]?: 'aggregationKey';
  @PrimaryKey({ type: 'text' }) eventId!: string;
  @Property({ type: 'text' }) roomId!: string;
  @Property({ type: 'text' }) relatesToId!: string;
  @Property({ type: 'text' }) relationType!: string;
  @Property({ type: 'text', nullable: true }) aggregationKey: string | null = null;
  @Property({ type: 'text' }) sender!: string;
  @Property({ type: new BigIntType('number') }) streamOrdering!: number;
}

@Entity({ tableName: 'room_retention' })
export class RoomRetentionEntity {
  [OptionalProps]?: 'minLifetime' | 'maxLifetime';
  @PrimaryKey({ type: 'text' }) eventId!: string;
  @Property({ type: 'text' }) roomId!: string;
  @Property({ type: new BigIntType('number'), nullable: true }) minLifetime: number | null = null;
  @Property({ type: new BigIntType('number'), nullable: true }) maxLifetime: number | null = null;
}

@Entity({ tableName: 'room_stats' })
export class RoomStatsEntity {
  [OptionalProps]?:
    | 'name' | 'canonicalAlias' | 'topic' | 'avatar' | 'joinRules' | 'historyVisibility' | 'guestAccess' | 'encryption'
    | 'federatable' | 'isPublic' | 'roomVersion' | 'creator' | 'roomType' | 'tombstoneSuccessor' | 'joinedMembers'
    | 'joinedLocalMembers' | 'invitedMembers' | 'leftMembers' | 'bannedMembers' | 'knockedMembers' | 'stateEvents';
  @PrimaryKey({ type: 'text' }) roomId!: string;
  @Property({ type: 'text', nullable: true }) name: string | null = null;
  @Property({ type: 'text', nullable: true }) canonicalAlias: string | null = null;
  @Property({ type: 'text', nullable: true }) topic: string | null = null;
  @Property({ type: 'text', nullable: true }) avatar: string | null = null;
  @Property({ type: 'text', nullable: true }) joinRules: string | null = null;
  @Property({ type: 'text', nullable: true }) historyVisibility: string | null = null;
  @Property({ type: 'text', nullable: true }) guestAccess: string | null = null;
  @Property({ type: 'text', nullable: true }) encryption: string | null = null;
  @Property({ type: 'boolean' }) federatable = true;
  @Property({ type: 'boolean' }) isPublic = false;
  @Property({ type: 'text', nullable: true }) roomVersion: string | null = null;
  @Property({ type: 'text', nullable: true }) creator: string | null = null;
  @Property({ type: 'text', nullable: true }) roomType: string | null = null;
  @Property({ type: 'text', nullable: true }) tombstoneSuccessor: string | null = null;
  @Property({ type: 'integer' }) joinedMembers = 0;
  @Property({ type: 'integer' }) joinedLocalMembers = 0;
  @Property({ type: 'integer' }) invitedMembers = 0;
  @Property({ type: 'integer' }) leftMembers = 0;
  @Property({ type: 'integer' }) bannedMembers = 0;
  @Property({ type: 'integer' }) knockedMembers = 0;
  @Property({ type: 'integer' }) stateEvents = 0;
}

export const ROOM_ENTITIES = [
  RoomEntity,
  EventEntity,
  CurrentStateEventEntity,
  RoomMembershipEntity,
  LocalCurrentMembershipEntity,
  RoomAliasEntity,
  BlockedRoomEntity,
  ForwardExtremityEntity,
  BackwardExtremityEntity,
  EventRelationEntity,
  RoomRetentionEntity,
  RoomStatsEntity,
];

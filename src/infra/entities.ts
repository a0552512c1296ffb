/**
 * Every MikroORM entity of the service (the ORM discovers exactly this list). Only the account
 * tables are mapped: rooms and events are read and written with set-based SQL by their
 * repositories, and their schema lives in the migrations. The users domain reads and writes
 * these through its repository.
 */
import { Entity, PrimaryKey, Property, OptionalProps, BigIntType } from '@mikro-orm/postgresql';

@Entity({ tableName: 'users' })
export class UserEntity {
  [OptionalProps]?:
    | 'admin'
    | 'deactivated'
    | 'isGuest'
    | 'passwordHash'
    | 'userType'
    | 'displayname'
    | 'avatarUrl'
    | 'lastSeenTs'
    | 'locked'
    | 'suspended'
    | 'shadowBanned';
  @PrimaryKey({ type: 'text' }) name!: string;
  @Property({ type: 'text', nullable: true }) passwordHash: string | null = null;
  @Property({ type: 'boolean' }) admin = false;
  @Property({ type: 'boolean' }) deactivated = false;
  @Property({ type: 'boolean' }) isGuest = false;
  @Property({ type: 'text', nullable: true }) userType: string | null = null;
  @Property({ type: 'text', nullable: true }) displayname: string | null = null;
  @Property({ type: 'text', nullable: true }) avatarUrl: string | null = null;
  @Property({ type: new BigIntType('number') }) creationTs!: number;
  @Property({ type: new BigIntType('number'), nullable: true }) lastSeenTs: number | null = null;
  /** Every authenticated request and login is refused (401 M_USER_LOCKED). */
  @Property({ type: 'boolean' }) locked = false;
  /** Sends, invites, joins, knocks, others' redactions and profile changes are refused (403 M_USER_SUSPENDED). */
  @Property({ type: 'boolean' }) suspended = false;
  /** Sends, invites and profile propagation look successful to the user and reach nobody. */
  @Property({ type: 'boolean' }) shadowBanned = false;
}

@Entity({ tableName: 'devices' })
export class DeviceEntity {
  [OptionalProps]?: 'displayName' | 'hidden' | 'lastSeenTs';
  @PrimaryKey({ type: 'text' }) userId!: string;
  @PrimaryKey({ type: 'text' }) deviceId!: string;
  @Property({ type: 'text', nullable: true }) displayName: string | null = null;
  @Property({ type: 'boolean' }) hidden = false;
  @Property({ type: new BigIntType('number'), nullable: true }) lastSeenTs: number | null = null;
}

@Entity({ tableName: 'access_tokens' })
export class AccessTokenEntity {
  [OptionalProps]?: 'id' | 'deviceId' | 'validUntilMs' | 'puppetsUserId';
  @PrimaryKey({ type: new BigIntType('number'), autoincrement: true }) id!: number;
  @Property({ type: 'blob' }) tokenHash!: Buffer;
  @Property({ type: 'text' }) userId!: string;
  @Property({ type: 'text', nullable: true }) deviceId: string | null = null;
  @Property({ type: new BigIntType('number'), nullable: true }) validUntilMs: number | null = null;
  @Property({ type: 'text', nullable: true }) puppetsUserId: string | null = null;
  @Property({ type: new BigIntType('number') }) createdTs!: number;
}

@Entity({ tableName: 'registration_nonces' })
export class RegistrationNonceEntity {
  @PrimaryKey({ type: 'text' }) nonce!: string;
  @Property({ type: new BigIntType('number') }) createdTs!: number;
}

export const ENTITIES = [UserEntity, DeviceEntity, AccessTokenEntity, RegistrationNonceEntity];

/**
 * Every MikroORM entity of the service (the ORM discovers exactly this list). Only the account
 * tables are mapped: rooms and events are read and written with set-based SQL by their
 * repositories, and their schema lives in the migrations.
 */
import { USER_ENTITIES } from '../users/user.entity';

export const ENTITIES = [...USER_ENTITIES];

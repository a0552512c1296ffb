/** Every MikroORM entity of the service (the ORM discovers exactly this list). */
import { USER_ENTITIES } from '../users/user.entity';
import { ROOM_ENTITIES } from '../rooms/room.entity';

export const ENTITIES = [...USER_ENTITIES, ...ROOM_ENTITIES];

/**
 * The rooms domain, built once: RoomService and the collaborators other domains and the gRPC
 * handlers need directly (client reads, out-of-band memberships, the serializer, the persister).
 * Every piece shares the same persister, so every event goes through the one write path.
 */
import type { Config } from '../config';
import type { LockManager } from '../infra/locks/lock.types';
import type { TaskScheduler } from '../tasks/task.types';
import { ClientReadService } from './client-read.service';
import { DirectoryService } from './directory.service';
import { EventPersister } from './event-persister';
import { EventRepository } from './event.repository';
import { EventSerializer } from './event.serializer';
import { ImportService } from './import.service';
import { MembershipService } from './membership.service';
import { OutOfBandMemberships } from './out-of-band';
import { RoomRepository } from './room.repository';
import { RoomService } from './room.service';

export interface RoomsDeps {
  config: Config;
  /** The new-event-during-purge locks; null where nothing purges (the seed tool, some tests). */
  locks: LockManager | null;
  /** Schedules forgotten-room purges; null where no scheduler runs (the seed tool, some tests). */
  scheduler: TaskScheduler | null;
}

export interface Rooms {
  rooms: RoomService;
  /** Client API reads, gated by membership and history visibility. */
  clientReads: ClientReadService;
  /** Memberships of rooms this server is not in (invites from other servers, their rejections). */
  outOfBand: OutOfBandMemberships;
  serializer: EventSerializer;
  persister: EventPersister;
}

export function createRooms(d: RoomsDeps): Rooms {
  const serverName = d.config.serverName;
  const roomRepo = new RoomRepository();
  const eventRepo = new EventRepository();
  const persister = new EventPersister(serverName, d.locks);
  const serializer = new EventSerializer();
  const directory = new DirectoryService(serverName, roomRepo, eventRepo);
  const clientReads = new ClientReadService(d.config, serializer, roomRepo, eventRepo);
  const outOfBand = new OutOfBandMemberships(serverName, (roomId, fn) => persister.withEventLocks([roomId], fn), roomRepo);
  const membership = new MembershipService({ serverName, config: d.config, persister, outOfBand, scheduler: d.scheduler, repo: roomRepo });
  const importer = new ImportService(serverName, persister, roomRepo);
  const rooms = new RoomService({ serverName, persister, serializer, directory, membership, importer, rooms: roomRepo, events: eventRepo });
  return { rooms, clientReads, outOfBand, serializer, persister };
}

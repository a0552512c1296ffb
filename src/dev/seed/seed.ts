/**
 * Builds a data set through the service code paths: local users through UserService.upsertUser,
 * rooms and events through RoomService.importRooms (the one event write path), batch by batch.
 */
import type { Em } from '../../infra/orm';
import type { UserService } from '../../users/user.service';
import type { RoomService } from '../../rooms/room.service';
import { generateImportBatches, localUserIds, type GeneratorOptions } from './generator';

export interface SeedReport {
  users: number;
  rooms: number;
  events: number;
  batches: number;
  ms: number;
}

/** Creates `userCount` local users (existing ones are kept), then imports the generated rooms. */
export async function seedDataset(
  fork: () => Em,
  rooms: RoomService,
  users: UserService,
  options: Omit<GeneratorOptions, 'localUsers'> & { userCount: number; userPrefix?: string },
  onBatch?: (done: { rooms: number; events: number }) => void,
): Promise<SeedReport> {
  const started = Date.now();
  const localUsers = localUserIds(options.serverName, options.userCount, options.userPrefix ?? '');
  for (const userId of localUsers) await users.upsertUser(fork(), { userId, displayname: userId.slice(1, userId.indexOf(':')) });
  const seen = new Set<string>();
  let events = 0;
  let batches = 0;
  for (const batch of generateImportBatches({ ...options, localUsers })) {
    await rooms.importRooms(fork(), batch);
    for (const r of batch) {
      if (r.roomId) seen.add(r.roomId);
      events += r.events.length;
    }
    batches += 1;
    onBatch?.({ rooms: seen.size, events });
  }
  return { users: localUsers.length, rooms: seen.size, events, batches, ms: Date.now() - started };
}

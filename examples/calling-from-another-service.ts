/**
 * Calling the service from another service: list rooms, start a room delete, and follow it with
 * the WatchTask stream. Run it with `SRA_ADDRESS=127.0.0.1:50051 SRA_TOKEN=<admin token>
 * npx tsx examples/calling-from-another-service.ts '!room:example.org'`.
 */
import { createClient, MatrixClientError, TaskStatus } from 'synapse-room-admin/client';

async function main(roomId: string): Promise<void> {
  const client = createClient({ address: process.env.SRA_ADDRESS ?? '127.0.0.1:50051', token: process.env.SRA_TOKEN });
  try {
    // A read: retried on UNAVAILABLE, 30 s deadline by default.
    const page = await client.roomAdmin.listRooms({ limit: 10 });
    console.log(`rooms: ${page.totalRooms}`);
    for (const room of page.rooms) console.log(`  ${room.roomId} ${room.name ?? ''} (${room.joinedMembers} members)`);

    // A write: sent once. The delete runs in the background as a task named by the delete id.
    const { deleteId } = await client.roomAdmin.startDeleteRoom({ roomId, options: { purge: true, block: true } });
    console.log(`delete started: ${deleteId}`);

    // The task now and after every change, until it finishes.
    for await (const { task } of client.tasks.watchTask({ taskId: deleteId })) {
      if (!task) continue;
      console.log(`task ${TaskStatus[task.status]} ${JSON.stringify(task.progress ?? {})}`);
      if (task.status === TaskStatus.TASK_STATUS_FAILED) throw new Error(`delete failed: ${task.error}`);
    }
    console.log('delete finished');
  } catch (err) {
    if (err instanceof MatrixClientError) {
      console.error(`${err.codeName} ${err.errcode} (HTTP ${err.httpStatus}): ${err.message}`);
      process.exitCode = 1;
    } else throw err;
  } finally {
    client.close();
  }
}

void main(process.argv[2] ?? '');

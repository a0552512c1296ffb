/**
 * `npm run admin -- <command>` (bin: `synapse-room-admin`): the service's admin operations over
 * gRPC through the typed client. Long jobs (room deletes, history purges, `tasks watch`) follow
 * their task with WatchTask until it finishes: a progress bar on a terminal, one line per change
 * otherwise, a summary at the end, exit status 1 when the task failed or was cancelled. Ctrl-C
 * detaches (the task keeps running) unless --cancel-on-exit is given.
 *
 * Exit statuses: 0 done, 1 failed (task failed or cancelled, or the call was refused), 2 bad
 * usage, 130 interrupted (Ctrl-C).
 */
import { parseArgs } from 'node:util';
import { GetRoomDetailsResponse, ListRoomsResponse, RoomOrderBy } from '../../gen/synapse/admin/v1/room_admin';
import { TaskStatus, taskStatusFromJSON } from '../../gen/synapse/admin/v1/task_scheduler';
import { createClient, MatrixClientError, type AdminClient } from '../client';
import { followTask, statusName, summary, taskJson, type OutputMode } from './progress';

export const DEFAULT_ADDRESS = '127.0.0.1:50051';

const USAGE = `Usage: npm run admin -- <command> [options]

Commands:
  rooms list [--search TEXT] [--limit N] [--from N]
  rooms show <room_id>
  rooms delete <room_id> [--block] [--purge] [--force-purge] [--new-room-user USER_ID]
                         [--room-name NAME] [--message TEXT]
  history purge <room_id> --before <timestamp_ms|ISO date|$event_id> [--delete-local-events]
  tasks list [--action NAME] [--status scheduled|active|complete|failed|cancelled] [--resource ID] [--limit N]
  tasks show <task_id>
  tasks cancel <task_id>
  tasks watch <task_id>

Options:
  --address HOST:PORT  gRPC server (env SRA_ADDRESS, default ${DEFAULT_ADDRESS})
  --token TOKEN        admin access token (env SRA_TOKEN)
  --json               machine-readable output: one JSON document per line
  --detach             long jobs: print the task id and return without following it
  --cancel-on-exit     long jobs: Ctrl-C cancels the task (default: Ctrl-C only stops following it)
  -h, --help           this text
`;

class UsageError extends Error {}

const OPTIONS = {
  address: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  detach: { type: 'boolean' },
  'cancel-on-exit': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  search: { type: 'string' },
  limit: { type: 'string' },
  from: { type: 'string' },
  block: { type: 'boolean' },
  purge: { type: 'boolean' },
  'force-purge': { type: 'boolean' },
  'new-room-user': { type: 'string' },
  'room-name': { type: 'string' },
  message: { type: 'string' },
  before: { type: 'string' },
  'delete-local-events': { type: 'boolean' },
  action: { type: 'string' },
  status: { type: 'string' },
  resource: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export interface Io {
  out(line: string): void;
  err(line: string): void;
  isTty: boolean;
  env: Record<string, string | undefined>;
  /** Registers the Ctrl-C handler of a long job; returns its remover. */
  onInterrupt(fn: () => void): () => void;
}

function intOption(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer`);
  return Number(v);
}

/** `--before`: a timestamp in ms, an ISO date, or an event id ($...). */
export function parseBefore(v: string | undefined): { purgeUpToEventId?: string; purgeUpToTs?: number } {
  if (!v) throw new UsageError('history purge needs --before <timestamp_ms|ISO date|$event_id>');
  if (v.startsWith('$')) return { purgeUpToEventId: v };
  if (/^\d+$/.test(v)) return { purgeUpToTs: Number(v) };
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new UsageError(`--before: not a timestamp, date or event id: ${v}`);
  return { purgeUpToTs: ms };
}

/** Runs one command line; resolves with the exit status. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help || positionals.length === 0) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? 0 : 2;
  }
  const mode: OutputMode = values.json ? 'json' : io.isTty ? 'tty' : 'plain';
  const client = createClient({
    address: values.address ?? io.env.SRA_ADDRESS ?? DEFAULT_ADDRESS,
    token: values.token ?? io.env.SRA_TOKEN,
  });
  try {
    return await dispatch(client, positionals, values, mode, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof MatrixClientError) {
      if (mode === 'json')
        io.out(JSON.stringify({ error: { code: err.codeName, errcode: err.errcode, http_status: err.httpStatus, message: err.message } }));
      else io.err(`error: ${err.errcode} (${err.codeName}, HTTP ${err.httpStatus}): ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    client.close();
  }
}

async function dispatch(client: AdminClient, pos: string[], v: Values, mode: OutputMode, io: Io): Promise<number> {
  const [group, cmd, arg] = pos;
  const need = (what: string) => {
    if (!arg) throw new UsageError(`${group} ${cmd} needs ${what}`);
    return arg;
  };
  const json = (x: unknown) => io.out(JSON.stringify(x));
  switch (`${group} ${cmd ?? ''}`) {
    case 'rooms list': {
      const page = await client.roomAdmin.listRooms({
        searchTerm: v.search,
        limit: intOption(v.limit, 'limit'),
        from: intOption(v.from, 'from') ?? 0,
        orderBy: RoomOrderBy.ROOM_ORDER_BY_NAME,
      });
      if (mode === 'json') return (json(ListRoomsResponse.toJSON(page)), 0);
      for (const r of page.rooms) io.out(`${r.roomId}\t${r.name ?? ''}\t${r.canonicalAlias ?? ''}\t${r.joinedMembers} members`);
      io.out(`${page.rooms.length} of ${page.totalRooms} rooms${page.nextBatch !== undefined ? ` (next: --from ${page.nextBatch})` : ''}`);
      return 0;
    }
    case 'rooms show': {
      const details = await client.roomAdmin.getRoomDetails({ roomId: need('a room id') });
      const body = GetRoomDetailsResponse.toJSON(details);
      io.out(mode === 'json' ? JSON.stringify(body) : JSON.stringify(body, null, 2));
      return 0;
    }
    case 'rooms delete': {
      const { deleteId } = await client.roomAdmin.startDeleteRoom({
        roomId: need('a room id'),
        options: {
          block: v.block ?? false,
          purge: v.purge ?? false,
          forcePurge: v['force-purge'] ?? false,
          newRoomUserId: v['new-room-user'],
          roomName: v['room-name'],
          message: v.message,
        },
      });
      return longJob(client, deleteId, v, mode, io);
    }
    case 'history purge': {
      const { purgeId } = await client.pagination.purgeHistory({
        roomId: need('a room id'),
        ...parseBefore(v.before),
        deleteLocalEvents: v['delete-local-events'] ?? false,
      });
      return longJob(client, purgeId, v, mode, io);
    }
    case 'tasks list': {
      const statuses = v.status ? [taskStatusFromJSON(`TASK_STATUS_${v.status.toUpperCase()}`)] : [];
      if (statuses.includes(TaskStatus.UNRECOGNIZED)) throw new UsageError(`--status: unknown status ${v.status}`);
      const { tasks } = await client.tasks.listTasks({
        actions: v.action ? [v.action] : [],
        statuses,
        resourceId: v.resource,
        limit: intOption(v.limit, 'limit'),
      });
      if (mode === 'json') return (json({ tasks: tasks.map(taskJson) }), 0);
      for (const t of tasks)
        io.out(`${t.id}\t${t.action}\t${statusName(t.status)}\t${t.resourceId ?? ''}\t${new Date(t.timestampMs).toISOString()}`);
      io.out(`${tasks.length} tasks`);
      return 0;
    }
    case 'tasks show':
    case 'tasks cancel': {
      const id = need('a task id');
      const { task } = cmd === 'show' ? await client.tasks.getTask({ taskId: id }) : await client.tasks.cancelTask({ taskId: id });
      if (!task) throw new MatrixClientError(5, `task ${id} not found`);
      io.out(
        mode === 'json'
          ? JSON.stringify(taskJson(task))
          : cmd === 'cancel'
            ? `task ${id} ${statusName(task.status)}`
            : JSON.stringify(taskJson(task), null, 2),
      );
      return 0;
    }
    case 'tasks watch':
      return longJob(client, need('a task id'), v, mode, io, false);
    default:
      throw new UsageError(`unknown command: ${pos.join(' ')}`);
  }
}

/** Follows a started task to its end (or detaches); the exit status says how it ended. */
async function longJob(client: AdminClient, id: string, v: Values, mode: OutputMode, io: Io, started = true): Promise<number> {
  if (started && mode !== 'json') io.out(`task ${id} started`);
  if (v.detach) {
    if (mode === 'json') io.out(JSON.stringify({ task_id: id }));
    else io.out(`detached; follow it with: npm run admin -- tasks watch ${id}`);
    return 0;
  }
  const began = Date.now();
  const stop = new AbortController();
  let interrupted = false;
  const remove = io.onInterrupt(() => {
    interrupted = true;
    stop.abort();
  });
  let task;
  try {
    task = await followTask(client, id, mode, io.out, stop.signal);
  } finally {
    remove();
  }
  if (interrupted) {
    if (v['cancel-on-exit']) {
      const { task: t } = await client.tasks.cancelTask({ taskId: id });
      io.err(`interrupted: task ${id} ${t ? statusName(t.status) : 'cancelled'}`);
    } else
      io.err(
        `interrupted: detached, task ${id} keeps running (follow it with: npm run admin -- tasks watch ${id}; cancel it with: npm run admin -- tasks cancel ${id})`,
      );
    return 130;
  }
  if (!task) throw new MatrixClientError(5, `task ${id} not found`);
  if (mode === 'json') io.out(JSON.stringify(taskJson(task)));
  else io.out(summary(task, Date.now() - began));
  return task.status === TaskStatus.TASK_STATUS_COMPLETE ? 0 : 1;
}

/** The process entry point (npm run admin, bin/synapse-room-admin.js). */
export function main(): void {
  const io: Io = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    isTty: process.stdout.isTTY === true,
    env: process.env,
    onInterrupt(fn) {
      process.once('SIGINT', fn);
      return () => process.removeListener('SIGINT', fn);
    },
  };
  runCli(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) main();

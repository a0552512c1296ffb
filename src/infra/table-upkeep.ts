/**
 * Vacuums and analyzes the service's own tables when PostgreSQL's autovacuum does not.
 *
 * Some rows are rewritten on every write: a room's statistics (`room_stats`, whose counters are
 * indexed for the rooms list's orders, so no update of them is HOT), its forward extremities, its
 * current state and memberships. Each rewrite leaves a dead version and, in every index, an entry
 * pointing at it. Reads walk past those entries until a vacuum removes them: on a database where
 * 200 rooms had been seeded with no vacuum since, a page of the rooms list visited 2,998 dead
 * versions for its 100 rooms (0.87 ms of its 1.4 ms execution; 0.07 ms after a vacuum). A
 * database that is never analyzed plans every statement on guesses.
 *
 * Every `intervalMs`, one instance at a time (a session advisory lock) reads the tables' activity
 * counters and, with autovacuum's default thresholds, vacuums the tables with too many dead or
 * newly inserted rows and analyzes the tables with too many changed rows. The statements are those
 * autovacuum would run: `SKIP_LOCKED` (a table another session holds is left for the next round),
 * throttled as autovacuum is by default (`vacuum_cost_delay` 2 ms).
 *
 * Mode `auto` (the default) does this only while the server's `autovacuum` setting is off; `on`
 * always; `off` never.
 */
import { Client } from 'pg';
import type { Logger } from '../logger';
import { upkeep as upkeepMetrics } from '../metrics/metrics';

export type TableUpkeepMode = 'auto' | 'on' | 'off';

export interface TableUpkeepOptions {
  mode: TableUpkeepMode;
  intervalMs: number;
  /** `vacuum_cost_delay` of the upkeep's vacuums (autovacuum's default: 2 ms). */
  vacuumCostDelayMs?: number;
}

/** Autovacuum's defaults: a table is vacuumed past 50 dead rows + 20 % of its rows, analyzed past 50 changed rows + 10 %. */
export const VACUUM_THRESHOLD = 50;
export const VACUUM_SCALE = 0.2;
export const VACUUM_INSERT_THRESHOLD = 1000;
export const VACUUM_INSERT_SCALE = 0.2;
export const ANALYZE_THRESHOLD = 50;
export const ANALYZE_SCALE = 0.1;

/** The advisory lock key of the upkeep (any instance of the service on this database). */
const LOCK_KEY = 0x7570_6b70; // "upkp"

export interface TableActivity {
  table: string;
  /** Rows per pg_class.reltuples (-1 before the first vacuum or analyze: counted as 0). */
  rows: number;
  dead: number;
  insertedSinceVacuum: number;
  modifiedSinceAnalyze: number;
  /** Rows inserted, updated and deleted since the statistics were reset (grows with every write). */
  writes: number;
}

export type UpkeepAction = 'vacuum' | 'vacuum analyze' | 'analyze';

/**
 * What one table needs; null: nothing. Autovacuum's rules, and one more: a table written since its
 * last vacuum that has `settled` (no write since the round before) is vacuumed once, whatever its
 * counts. A burst of writes below the thresholds (seeding, an import, a busy hour) otherwise
 * leaves pages the visibility map does not cover, and the planner then turns away from
 * index-only scans (a user's rooms, the rooms list's walks) until the next burst crosses them.
 */
export function upkeepFor(a: TableActivity, settled = false): UpkeepAction | null {
  const rows = Math.max(0, a.rows);
  const vacuum =
    a.dead > VACUUM_THRESHOLD + VACUUM_SCALE * rows ||
    a.insertedSinceVacuum > VACUUM_INSERT_THRESHOLD + VACUUM_INSERT_SCALE * rows ||
    (settled && (a.dead > 0 || a.insertedSinceVacuum > 0));
  const analyze = a.modifiedSinceAnalyze > ANALYZE_THRESHOLD + ANALYZE_SCALE * rows;
  return vacuum ? (analyze ? 'vacuum analyze' : 'vacuum') : analyze ? 'analyze' : null;
}

export interface UpkeepRound {
  /** Why nothing was looked at: autovacuum is on (mode auto), or another instance holds the lock. */
  skipped?: 'autovacuum' | 'busy';
  done: { table: string; action: UpkeepAction; ms: number }[];
}

export class TableUpkeep {
  private timer: NodeJS.Timeout | null = null;
  private inRound = false;
  private client: { pg: Client; pid: number } | null = null;
  private closed = false;
  /** The round under way, whoever started it. */
  private current: Promise<unknown> = Promise.resolve();
  /** The backend running a vacuum or an analyze right now (close() cancels it). */
  private busyPid: number | null = null;
  /** Each table's write count at the last round (a table whose count did not move has settled). */
  private readonly writesSeen = new Map<string, number>();
  /**
   * Each table's write count when this instance last vacuumed it. Nothing written since, another
   * vacuum could not do more (rows a long transaction still sees stay dead, and counted, until it
   * ends): the table is left alone until its next write.
   */
  private readonly vacuumedAt = new Map<string, number>();

  constructor(
    private readonly connectionString: string,
    private readonly log: Logger,
    private readonly opts: TableUpkeepOptions,
  ) {}

  start(): void {
    if (this.opts.mode === 'off' || this.timer) return;
    this.timer = setInterval(() => {
      // A round that outlasts the interval is not joined by another.
      if (!this.inRound) this.round().catch((err: unknown) => this.fail(err));
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /**
   * Stops the rounds. A vacuum under way is cancelled (a large table's can take minutes; cancelled,
   * it leaves the table as it was, and a later round starts it again), then the round is awaited.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.busyPid !== null) await this.cancel(this.busyPid);
    await this.current;
    const c = this.client;
    this.client = null;
    await c?.pg.end().catch(() => undefined);
  }

  /**
   * One round (after the one under way, if any): the tables that need it are vacuumed or
   * analyzed, in the order of their dead rows.
   */
  round(): Promise<UpkeepRound> {
    const r = this.current.then(() => this.roundOnce());
    this.current = r.catch(() => undefined);
    return r;
  }

  private async roundOnce(): Promise<UpkeepRound> {
    if (this.closed) return { done: [] };
    this.inRound = true;
    try {
      return await this.lookAndDo();
    } finally {
      this.inRound = false;
    }
  }

  private async lookAndDo(): Promise<UpkeepRound> {
    const { pg, pid } = await this.connection();
    if (this.opts.mode === 'auto') {
      const { rows } = await pg.query<{ on: boolean }>("SELECT current_setting('autovacuum')::boolean AS on");
      if (rows[0].on) return { skipped: 'autovacuum', done: [] };
    }
    const { rows: locked } = await pg.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LOCK_KEY]);
    if (!locked[0].ok) return { skipped: 'busy', done: [] };
    try {
      const done: UpkeepRound['done'] = [];
      for (const a of await this.activity(pg)) {
        const before = this.writesSeen.get(a.table);
        this.writesSeen.set(a.table, a.writes);
        let action = upkeepFor(a, before === a.writes);
        if (action !== null && action !== 'analyze' && this.vacuumedAt.get(a.table) === a.writes)
          action = action === 'vacuum analyze' ? 'analyze' : null;
        if (!action || this.closed) continue;
        const started = performance.now();
        const table = pg.escapeIdentifier(a.table);
        this.busyPid = pid;
        try {
          await pg.query(
            action === 'analyze'
              ? `ANALYZE (SKIP_LOCKED) ${table}`
              : `VACUUM (SKIP_LOCKED${action === 'vacuum analyze' ? ', ANALYZE' : ''}) ${table}`,
          );
        } finally {
          this.busyPid = null;
        }
        if (action !== 'analyze') this.vacuumedAt.set(a.table, a.writes);
        const ms = performance.now() - started;
        upkeepMetrics.ran(action, ms);
        done.push({ table: a.table, action, ms });
      }
      if (done.length) this.log.debug({ tables: done.map((d) => `${d.table}: ${d.action} ${d.ms.toFixed(1)} ms`) }, 'table upkeep');
      return { done };
    } finally {
      await pg.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    }
  }

  /** The activity counters of the tables of the service's schema, most dead rows first. */
  async activity(pg?: Client): Promise<TableActivity[]> {
    const c = pg ?? (await this.connection()).pg;
    const { rows } = await c.query<{ table: string; rows: number; dead: string; ins: string; mod: string; writes: string }>(
      `SELECT s.relname AS table, c.reltuples AS rows, s.n_dead_tup AS dead, s.n_ins_since_vacuum AS ins, s.n_mod_since_analyze AS mod,
              s.n_tup_ins + s.n_tup_upd + s.n_tup_del AS writes
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
        WHERE s.schemaname = current_schema()
        ORDER BY s.n_dead_tup DESC, s.relname`,
    );
    return rows.map((r) => ({
      table: r.table,
      rows: Number(r.rows),
      dead: Number(r.dead),
      insertedSinceVacuum: Number(r.ins),
      modifiedSinceAnalyze: Number(r.mod),
      writes: Number(r.writes),
    }));
  }

  private async connection(): Promise<{ pg: Client; pid: number }> {
    if (this.client) return this.client;
    const c = new Client({ connectionString: this.connectionString, application_name: 'table-upkeep' });
    c.on('error', (err) => this.log.debug({ err: err.message }, 'table upkeep connection error'));
    await c.connect();
    // Throttled as autovacuum is by default; no statement limit a pool may set applies here.
    const delay = Math.max(0, Math.min(100, Math.round(this.opts.vacuumCostDelayMs ?? 2)));
    await c.query(`SET vacuum_cost_delay = '${delay}ms'; SET statement_timeout = 0`);
    const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    this.client = { pg: c, pid: rows[0].pid };
    return this.client;
  }

  /** Cancels the statement of backend `pid`, from a connection of its own. */
  private async cancel(pid: number): Promise<void> {
    const c = new Client({ connectionString: this.connectionString, application_name: 'table-upkeep' });
    try {
      await c.connect();
      await c.query('SELECT pg_cancel_backend($1)', [pid]);
    } catch (err) {
      this.log.warn({ err }, 'could not cancel the table upkeep under way');
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  private fail(err: unknown): void {
    // The next round reconnects.
    const c = this.client;
    this.client = null;
    void c?.pg.end().catch(() => undefined);
    if (!this.closed) this.log.warn({ err }, 'table upkeep round failed');
  }
}

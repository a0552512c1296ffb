/**
 * Executed plans of statements as the SQL door runs them: prepared (`?` or `$n` placeholders,
 * arrays bound as PostgreSQL arrays), under the plan mode asked for, explained as JSON (the nodes,
 * flattened) or as text.
 */
import type { Client as PgClient } from 'pg';
import { toNumbered } from '../../src/infra/sql';

export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Alias?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Heap Fetches'?: number;
  Plans?: PlanNode[];
}

export interface Statement {
  text: string;
  params: unknown[];
}

/** The node and every node under it. */
export const planNodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(planNodes)];

/** "Node Type on relation" of each node (with the relation's alias in the query when `aliases`), for assertions and their messages. */
export const describeNodes = (all: PlanNode[], aliases = false): string[] =>
  all.map((n) => `${n['Node Type']}${n['Relation Name'] ? ` on ${n['Relation Name']}${aliases ? ` ${n.Alias}` : ''}` : ''}`);

/** The parameters as SQL literals (an array as a PostgreSQL array literal). */
function literals(pg: PgClient, params: unknown[]): string {
  const out = params.map((p) =>
    Array.isArray(p) ? pg.escapeLiteral(`{${p.map((e) => JSON.stringify(e)).join(',')}}`) : pg.escapeLiteral(String(p)),
  );
  return out.length ? `(${out.join(', ')})` : '';
}

/**
 * The plan of `st` prepared on `pg` and executed once under `mode` (`generic`: as prepared
 * statements run; `custom`: planned for the values). `analyze` runs it (actual rows and loops).
 */
export async function explainPrepared(
  pg: PgClient,
  st: Statement,
  mode: 'generic' | 'custom',
  opts: { analyze?: boolean } = {},
): Promise<PlanNode[]> {
  const res = await withPrepared(pg, st, mode, (name) =>
    pg.query(`EXPLAIN (${opts.analyze === false ? '' : 'ANALYZE, '}FORMAT JSON) EXECUTE ${name}${literals(pg, st.params)}`),
  );
  return planNodes((res.rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0].Plan);
}

/** The same plan as text (not executed). */
export async function explainPreparedText(pg: PgClient, st: Statement, mode: 'generic' | 'custom'): Promise<string> {
  const res = await withPrepared(pg, st, mode, (name) =>
    pg.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE ${name}${literals(pg, st.params)}`),
  );
  return res.rows.map((r) => r['QUERY PLAN']).join('\n');
}

async function withPrepared<T>(pg: PgClient, st: Statement, mode: 'generic' | 'custom', fn: (name: string) => Promise<T>): Promise<T> {
  await pg.query(`SET plan_cache_mode = ${mode === 'generic' ? 'force_generic_plan' : 'force_custom_plan'}`);
  await pg.query(`PREPARE plan_probe AS ${toNumbered(st.text)}`);
  try {
    return await fn('plan_probe');
  } finally {
    await pg.query('DEALLOCATE plan_probe');
  }
}

/**
 * Bundled aggregations (`unsigned["m.relations"]`), as Synapse bundles them with /messages and
 * event context: references (`{"chunk": [{"event_id"}]}`), the latest applicable edit (the whole
 * edit event) and thread summaries (latest event, count, whether the requester participated).
 * Annotations are not bundled (Synapse stopped bundling them). One statement for a whole page.
 */
import type { Em } from '../infra/orm';
import type { EventView } from '../rooms/event.serializer';
import type { RoomService } from '../rooms/room.service';
import type { Json, StoredEvent } from '../rooms/room.types';
import { sql } from '../rooms/sql';
import { relationTypeOf } from './event-filter';

interface RelationRow {
  kind: 'ref' | 'edit' | 'thread';
  target: string;
  event_id: string;
  n: string | null;
  mine: boolean | null;
}

export interface Aggregation {
  references: string[];
  edit: string | null;
  thread: { latest: string; count: number; participated: boolean } | null;
}

/** Loads the aggregations of `targets` (bundles) and `threadRoots` (thread summaries). */
async function loadRelations(em: Em, targets: string[], threadRoots: string[], userId: string): Promise<RelationRow[]> {
  if (targets.length === 0) return [];
  return sql<RelationRow>(
    em,
    `SELECT kind, target, event_id, n, mine FROM (
       SELECT 'ref' AS kind, r.relates_to_id AS target, r.event_id, NULL::bigint AS n, NULL::boolean AS mine, r.stream_ordering AS ord
         FROM event_relations r WHERE r.relates_to_id = ANY(ARRAY[?]::text[]) AND r.relation_type = 'm.reference'
       UNION ALL
       SELECT 'edit', x.target, x.event_id, NULL, NULL, 0 FROM (
         SELECT DISTINCT ON (r.relates_to_id) r.relates_to_id AS target, r.event_id
           FROM event_relations r JOIN events ed ON ed.event_id = r.event_id JOIN events o ON o.event_id = r.relates_to_id
          WHERE r.relates_to_id = ANY(ARRAY[?]::text[]) AND r.relation_type = 'm.replace' AND ed.type = 'm.room.message'
            AND ed.type = o.type AND ed.sender = o.sender AND ed.room_id = o.room_id AND ed.rejected_reason IS NULL AND o.redacted_by IS NULL
          ORDER BY r.relates_to_id, ed.origin_server_ts DESC, ed.event_id DESC) x
       UNION ALL
       SELECT 'thread', t.target, t.latest, t.n, t.mine, 0 FROM (
         SELECT r.relates_to_id AS target, (array_agg(r.event_id ORDER BY e.depth DESC, e.stream_ordering DESC))[1] AS latest,
                count(*) AS n, bool_or(r.sender = ?) AS mine
           FROM event_relations r JOIN events e ON e.event_id = r.event_id
          WHERE r.relates_to_id = ANY(ARRAY[?]::text[]) AND r.relation_type = 'm.thread' AND e.rejected_reason IS NULL AND NOT e.soft_failed
          GROUP BY r.relates_to_id) t
     ) a ORDER BY ord`,
    [targets, targets, userId, threadRoots.length > 0 ? threadRoots : ['']],
  );
}

/** Computes the aggregations of the events that can carry them, keyed by event id. */
export async function bundledAggregations(em: Em, events: StoredEvent[], userId: string): Promise<Map<string, Aggregation>> {
  const targets: string[] = [];
  const threadRoots: string[] = [];
  const senders = new Map<string, string>();
  for (const e of events) {
    // State events, reactions and edits never carry bundles; an event in a relation cannot be a thread root.
    if (e.stateKey !== null) continue;
    const rel = relationTypeOf(e.content);
    if (rel === 'm.annotation' || rel === 'm.replace') continue;
    targets.push(e.eventId);
    senders.set(e.eventId, e.sender);
    if (rel === null) threadRoots.push(e.eventId);
  }
  const out = new Map<string, Aggregation>();
  const get = (id: string) => {
    let a = out.get(id);
    if (!a) out.set(id, (a = { references: [], edit: null, thread: null }));
    return a;
  };
  for (const r of await loadRelations(em, targets, threadRoots, userId)) {
    if (r.kind === 'ref') get(r.target).references.push(r.event_id);
    else if (r.kind === 'edit') get(r.target).edit = r.event_id;
    else get(r.target).thread = { latest: r.event_id, count: Number(r.n), participated: Boolean(r.mine) || senders.get(r.target) === userId };
  }
  return out;
}

/** Adds `unsigned["m.relations"]` to serialised events (nested events serialised the same way). */
export async function attachAggregations(em: Em, rooms: RoomService, views: EventView[], aggregations: Map<string, Aggregation>, requester: { userId: string; deviceId?: string | null; tokenId?: number | null }): Promise<void> {
  if (aggregations.size === 0) return;
  const nestedIds = new Set<string>();
  for (const a of aggregations.values()) {
    if (a.edit) nestedIds.add(a.edit);
    if (a.thread) nestedIds.add(a.thread.latest);
  }
  const nested = await rooms.getEvents(em, [...nestedIds]);
  const nestedViews = new Map((await rooms.serializeEvents(em, nested, { requester })).map((v) => [v.eventId, v]));
  for (const view of views) {
    const a = aggregations.get(view.eventId);
    if (!a) continue;
    const relations: Json = {};
    if (a.references.length > 0) relations['m.reference'] = { chunk: a.references.map((event_id) => ({ event_id })) };
    const edit = a.edit ? nestedViews.get(a.edit) : undefined;
    if (edit) relations['m.replace'] = edit;
    const latest = a.thread ? nestedViews.get(a.thread.latest) : undefined;
    if (a.thread && latest) relations['m.thread'] = { latest_event: latest, count: a.thread.count, current_user_participated: a.thread.participated };
    if (Object.keys(relations).length > 0) view.unsigned['m.relations'] = { ...((view.unsigned['m.relations'] as Json | undefined) ?? {}), ...relations };
  }
}

/**
 * Turns page rows into the proto-shaped events the handlers return, with everything computed at
 * read time: `unsigned` as the rooms module's EventSerializer computes it (age, replaces_state,
 * prev_content/prev_sender, redacted_because with the content pruned, transaction_id), from data
 * the page statement already loaded, plus bundled aggregations (`unsigned["m.relations"]`:
 * `m.reference` chunk, the latest `m.replace` event, the `m.thread` summary).
 */
import type { Em } from '../infra/orm';
import { prunedContent, type EventSerializer, type EventView, type SerializeOptions } from '../rooms/event.serializer';
import { roomVersionOf } from '../rooms/room-versions';
import type { Json } from '../rooms/room.types';
import type { ExtrasOptions, PageRow } from './page-rows';
import type { PaginationRepository } from './pagination.repository';

type Requester = NonNullable<SerializeOptions['requester']>;

export class PagePresenter {
  constructor(
    private readonly serializer: EventSerializer,
    private readonly repo: PaginationRepository,
  ) {}

  /** One row, as EventSerializer.serialize would present it (same `unsigned`, same pruning). */
  view(r: PageRow, now: number, requester: Requester): EventView {
    const view = this.serializer.view(r, now, requester);
    if (r.replacesState) view.unsigned.replaces_state = r.replacesState;
    if (r.prevContent !== null) {
      view.unsigned.prev_content = r.prevContent;
      view.unsigned.prev_sender = r.prevSender;
    }
    if (r.redaction) {
      view.content = prunedContent(roomVersionOf(r.roomVersion ?? '10'), r.type, r.content);
      view.unsigned.redacted_by = r.redaction.eventId;
      view.unsigned.redacted_because = this.serializer.view(r.redaction, now, requester);
    }
    return view;
  }

  /** Rows in order, with their bundled aggregations (one more statement only when a bundle names events). */
  async present(em: Em, rows: PageRow[], requester: Requester, extras: ExtrasOptions): Promise<EventView[]> {
    const now = Date.now();
    const views = rows.map((r) => this.view(r, now, requester));
    const nestedIds = new Set<string>();
    for (const r of rows) {
      if (r.aggregations?.edit) nestedIds.add(r.aggregations.edit);
      if (r.aggregations?.thread) nestedIds.add(r.aggregations.thread[0]);
    }
    const nested = new Map<string, EventView>();
    if (nestedIds.size > 0) {
      for (const n of await this.repo.eventsById(em, [...nestedIds], { dagFields: extras.dagFields, aggregationsFor: null })) nested.set(n.eventId, this.view(n, now, requester));
    }
    rows.forEach((r, i) => {
      const a = r.aggregations;
      if (!a) return;
      const relations: Json = {};
      if (a.refs && a.refs.length > 0) relations['m.reference'] = { chunk: a.refs.map((event_id) => ({ event_id })) };
      const edit = a.edit ? nested.get(a.edit) : undefined;
      if (edit) relations['m.replace'] = edit;
      const latest = a.thread ? nested.get(a.thread[0]) : undefined;
      if (a.thread && latest) relations['m.thread'] = { latest_event: latest, count: Number(a.thread[1]), current_user_participated: Boolean(a.thread[2]) };
      if (Object.keys(relations).length > 0) views[i].unsigned['m.relations'] = relations;
    });
    return views;
  }
}

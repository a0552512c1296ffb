/**
 * Turns page rows into the proto-shaped events the handlers return, with everything computed at
 * read time: `unsigned` as the rooms module's EventSerializer computes it (age, replaces_state,
 * prev_content/prev_sender, redacted_because with the content pruned, transaction_id), from data
 * the page statement already loaded, plus bundled aggregations (`unsigned["m.relations"]`:
 * `m.reference` chunk, the latest `m.replace` event, the `m.thread` summary).
 */
import { prunedContent, type EventSerializer, type EventView, type SerializeOptions } from '../rooms/event.serializer';
import { roomVersionOf } from '../rooms/room-versions';
import type { Json } from '../rooms/room.types';
import type { PageRow } from './page-rows';

type Requester = NonNullable<SerializeOptions['requester']>;

export class PagePresenter {
  constructor(private readonly serializer: EventSerializer) {}

  /** One row, as EventSerializer.serialize would present it (same `unsigned`, same pruning). */
  view(r: PageRow, now: number, requester: Requester | null): EventView {
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

  /** Rows in order, with their bundled aggregations (the events they show come with the rows). */
  present(rows: PageRow[], requester: Requester): EventView[] {
    const now = Date.now();
    return rows.map((r) => {
      const view = this.view(r, now, requester);
      const a = r.aggregations;
      if (!a) return view;
      const relations: Json = {};
      if (a.refs && a.refs.length > 0) relations['m.reference'] = { chunk: a.refs.map((event_id) => ({ event_id })) };
      if (a.edit) relations['m.replace'] = this.view(a.edit, now, requester);
      if (a.thread)
        relations['m.thread'] = {
          latest_event: this.view(a.thread[0], now, requester),
          count: a.thread[1],
          current_user_participated: a.thread[2],
        };
      if (Object.keys(relations).length > 0) view.unsigned['m.relations'] = relations;
      return view;
    });
  }
}

/** Event reports (spec users-moderation §12): users report events they can see; admins read and delete them. */
import { MatrixError, badJson, notFound } from '../errors';
import { parseJsonObject } from '../matrix/json-body';
import { refuseGuest, type Requester } from '../context';
import type { Em } from '../infra/orm';
import type { RoomService } from '../rooms/room.service';
import type { ClientReadService } from '../rooms/client-read.service';
import type { Json, StoredEvent } from '../rooms/room.types';
import { EventReportRepository, type EventReportQuery, type EventReportRow } from './event-reports.repository';

export class EventReportService {
  private readonly repo = new EventReportRepository();

  constructor(
    private readonly rooms: RoomService,
    private readonly clientReads: ClientReadService,
  ) {}

  /**
   * Stores a report of an event the reporter can see in that room (history visibility); 404
   * otherwise, with Synapse's text, whether the event is unknown, elsewhere or hidden.
   */
  async report(
    em: Em,
    requester: Requester,
    roomId: string,
    eventId: string,
    given: { reason: string | null; content: Json } | { body: Uint8Array },
  ): Promise<void> {
    refuseGuest(requester);
    const body = 'body' in given ? reportBody(given.body) : given;
    try {
      await this.clientReads.getEvent(em, requester, roomId, eventId);
    } catch (err) {
      if (err instanceof MatrixError && (err.httpStatus === 404 || err.httpStatus === 403))
        throw notFound("Unable to report event: it does not exist or you aren't able to see it.");
      throw err;
    }
    await this.repo.insert(em, {
      roomId,
      eventId,
      userId: requester.userId,
      reason: body.reason,
      content: body.content,
      receivedTs: Date.now(),
    });
  }

  list(em: Em, q: EventReportQuery): Promise<{ reports: EventReportRow[]; total: number }> {
    return this.repo.list(em, q);
  }

  /** A report with its event as stored; 404 "Event report not found" when either is missing. */
  async get(em: Em, id: number): Promise<{ report: EventReportRow; event: StoredEvent }> {
    const report = await this.repo.get(em, id);
    const event = report ? await this.rooms.getEvent(em, report.eventId) : null;
    if (!report || !event) throw notFound('Event report not found');
    return { report, event };
  }

  async delete(em: Em, id: number): Promise<void> {
    if (!(await this.repo.delete(em, id))) throw notFound('Event report not found');
  }
}

/**
 * A report's body as received, read as Synapse reads it: a JSON object (400 M_NOT_JSON /
 * M_BAD_JSON), `reason` a string and `score` an integer when present (400 M_BAD_JSON), the whole
 * object kept as the report's content.
 */
function reportBody(raw: Uint8Array): { reason: string | null; content: Json } {
  const content = parseJsonObject(raw, false);
  const { reason, score } = content;
  if ('reason' in content && typeof reason !== 'string') throw badJson("Param 'reason' must be a string");
  if ('score' in content && (typeof score !== 'number' || !Number.isSafeInteger(score))) throw badJson("Param 'score' must be an integer");
  return { reason: (reason as string | undefined) ?? null, content };
}

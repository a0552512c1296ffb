/** Event reports (spec users-moderation §12): users report events they can see; admins read and delete them. */
import { MatrixError, notFound } from '../errors';
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
    body: { reason: string | null; content: Json },
  ): Promise<void> {
    refuseGuest(requester);
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

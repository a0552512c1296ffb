import { Direction, EventFormat } from '../../../gen/synapse/admin/v1/common';
import type {
  AdminGetEventContextRequest,
  GetEventContextRequest,
  GetEventContextResponse,
  MessagesPage as MessagesPageMsg,
  MessagesQuery,
  PaginationServiceServer,
} from '../../../gen/synapse/admin/v1/pagination';
import { requesterOf, type Ctx } from '../../context';
import type { ContextParams, EventContext, MessagesPage, MessagesRequest, PaginationService } from '../../pagination/pagination.service';
import type { PurgeHistoryService } from '../../pagination/purge-history.service';
import type { CallAdapter } from '../adapter';
import { PURGE_STATUS, dirWord } from '../contract-words';
import { presentEvent, presentWithRelations } from '../../matrix/event-formats';
import { purgeHistoryBody, type PurgeHistoryBody } from '../../pagination/purge-history.body';
import { toEventMessage, toEventMessages } from './event-message';

export interface PaginationHandlerDeps {
  pagination: PaginationService;
  purges: PurgeHistoryService;
}

const toRequest = (q: MessagesQuery | undefined): MessagesRequest => ({
  roomId: q?.roomId ?? '',
  dir: dirWord(q?.dir ?? Direction.DIRECTION_FORWARDS),
  from: q?.from ?? null,
  to: q?.to ?? null,
  dirParam: q?.dirParam ?? null,
  limit: q?.limit ?? null,
  limitParam: q?.limitParam ?? null,
  filterJson: q?.filterJson ?? null,
  filter: q?.filter ?? null,
  federationFormat: q?.format === EventFormat.EVENT_FORMAT_FEDERATION,
});

/** The client-server API's /messages body: `chunk`, `start`, then `end` and `state` when present. */
function jsonBody(p: MessagesPage): Buffer {
  const format = p.federationFormat ? 'federation' : 'client';
  const body: Record<string, unknown> = { chunk: p.chunk.map((e) => presentWithRelations(e, format)), start: p.start };
  if (p.end !== null) body.end = p.end;
  if (p.state.length > 0) body.state = p.state.map((e) => presentWithRelations(e, format));
  return Buffer.from(JSON.stringify(body));
}

const toPage = (p: MessagesPage, asJsonBody: boolean): MessagesPageMsg => {
  const format = p.federationFormat ? EventFormat.EVENT_FORMAT_FEDERATION : EventFormat.EVENT_FORMAT_CLIENT;
  if (asJsonBody) return { chunk: [], start: p.start, end: p.end ?? undefined, state: [], format, jsonBody: jsonBody(p) };
  return { chunk: toEventMessages(p.chunk), start: p.start, end: p.end ?? undefined, state: toEventMessages(p.state), format };
};

/**
 * An event context, typed or (`asJsonBody`) as the REST response body: `events_before`, `event`,
 * `events_after`, `state`, `start`, `end`, events in the client format.
 */
function toContext(c: EventContext, asJsonBody: boolean): GetEventContextResponse {
  if (asJsonBody) {
    const body = {
      events_before: c.eventsBefore.map((e) => presentWithRelations(e, 'client')),
      event: presentWithRelations(c.event, 'client'),
      events_after: c.eventsAfter.map((e) => presentWithRelations(e, 'client')),
      state: c.state.map((e) => presentEvent(e, 'client')),
      start: c.start,
      end: c.end,
    };
    return { eventsBefore: [], eventsAfter: [], state: [], start: '', end: '', jsonBody: Buffer.from(JSON.stringify(body)) };
  }
  return {
    eventsBefore: toEventMessages(c.eventsBefore),
    event: toEventMessage(c.event),
    eventsAfter: toEventMessages(c.eventsAfter),
    state: toEventMessages(c.state),
    start: c.start,
    end: c.end,
  };
}

const contextParams = (req: GetEventContextRequest | AdminGetEventContextRequest): ContextParams => ({
  limit: req.limit ?? null,
  limitParam: req.limitParam ?? null,
  filterJson: req.filterJson ?? null,
  filter: req.filter ?? null,
});

const readerOf = (ctx: Ctx) => {
  const r = requesterOf(ctx);
  return { userId: r.userId, deviceId: r.deviceId, tokenId: r.tokenId };
};

export function paginationHandler(a: CallAdapter, d: PaginationHandlerDeps): PaginationServiceServer {
  return {
    getRoomMessages: a.unary('user', async (req, ctx) => ({
      page: toPage(await d.pagination.getMessages(ctx, readerOf(ctx), toRequest(req.query), false), req.query?.asJsonBody ?? false),
    })),
    adminGetRoomMessages: a.unary('admin', async (req, ctx) => ({
      page: toPage(await d.pagination.getMessages(ctx, readerOf(ctx), toRequest(req.query), true), req.query?.asJsonBody ?? false),
    })),
    getEventContext: a.unary('user', async (req, ctx) =>
      toContext(
        await d.pagination.getContext(ctx, readerOf(ctx), req.roomId, req.eventId, contextParams(req), false),
        req.asJsonBody ?? false,
      ),
    ),
    adminGetEventContext: a.unary('admin', async (req, ctx) =>
      toContext(
        await d.pagination.getContext(ctx, readerOf(ctx), req.roomId, req.eventId, contextParams(req), true),
        req.asJsonBody ?? false,
      ),
    ),
    purgeHistory: a.unary('admin', async (req, ctx) => {
      let p: PurgeHistoryBody = { eventId: req.purgeUpToEventId, upToTs: req.purgeUpToTs, deleteLocalEvents: req.deleteLocalEvents };
      if (req.bodyJson !== undefined) {
        p = purgeHistoryBody(req.bodyJson, req.purgeUpToEventId);
        a.checkRequest('/synapse.admin.v1.PaginationService/PurgeHistory', {
          roomId: req.roomId,
          purgeUpToEventId: p.eventId,
          deleteLocalEvents: p.deleteLocalEvents,
        });
      }
      return {
        purgeId: await d.purges.startPurge(ctx.em, {
          roomId: req.roomId,
          eventId: p.eventId ?? null,
          upToTs: p.upToTs ?? null,
          deleteLocalEvents: p.deleteLocalEvents,
          requestId: ctx.requestId,
        }),
      };
    }),
    getPurgeHistoryStatus: a.unary('admin', async (req, ctx) => {
      const s = await d.purges.getStatus(ctx.em, req.purgeId);
      return { status: PURGE_STATUS.value(s.status), error: s.error ?? undefined, progress: s.progress ?? undefined };
    }),
  };
}

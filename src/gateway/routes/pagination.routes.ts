import { Direction, EventFormat } from '../../../gen/synapse/admin/v1/common';
import type { MessagesPage, MessagesQuery } from '../../../gen/synapse/admin/v1/pagination';
import { PURGE_STATUS } from '../../grpc/contract-words';
import { RawJson, type GatewayRequest, type Route } from '../router';
import { clientPaths } from './auth.routes';

/**
 * The query of /messages, passed on as given: the service checks the parameters in Synapse's
 * order (dir, from, to, limit, filter) after authenticating the caller.
 */
function messagesQuery(r: GatewayRequest): MessagesQuery {
  return {
    roomId: r.params.roomId,
    dir: Direction.DIRECTION_FORWARDS,
    dirParam: r.query.string('dir'),
    from: r.query.string('from'),
    to: r.query.string('to'),
    limitParam: r.query.string('limit'),
    filterJson: r.query.jsonText('filter'),
    format: r.query.has('raw') ? EventFormat.EVENT_FORMAT_FEDERATION : EventFormat.EVENT_FORMAT_CLIENT,
  };
}

/** The /messages body, rendered by the service (asked for with `as_json_body`). */
function pageBody(p: MessagesPage | undefined): RawJson {
  if (!p?.jsonBody) throw new Error('the pagination service returned a page without its JSON body');
  return new RawJson(p.jsonBody);
}

async function purgeHistory(r: GatewayRequest) {
  const res = await r.rpc(r.clients.pagination, 'purgeHistory', {
    roomId: r.params.roomId,
    purgeUpToEventId: r.params.eventId,
    deleteLocalEvents: false,
    bodyJson: r.rawBody,
  });
  return { body: { purge_id: res.purgeId } };
}

/** Event context, for clients or admins: the same query (checked by the service) and the same body, rendered by the service. */
async function eventContext(r: GatewayRequest, rpc: 'getEventContext' | 'adminGetEventContext') {
  const c = await r.rpc(r.clients.pagination, rpc, {
    roomId: r.params.roomId,
    eventId: r.params.eventId,
    limitParam: r.query.string('limit'),
    filterJson: r.query.jsonText('filter'),
    asJsonBody: true,
  });
  if (!c.jsonBody) throw new Error('the pagination service returned an event context without its JSON body');
  return { body: new RawJson(c.jsonBody) };
}

export const paginationRoutes: Route[] = [
  ...clientPaths('/rooms/{roomId}/messages', {
    method: 'GET',
    auth: 'user',
    handler: async (r) => ({
      body: pageBody((await r.rpc(r.clients.pagination, 'getRoomMessages', { query: { ...messagesQuery(r), asJsonBody: true } })).page),
    }),
  }),
  {
    method: 'GET',
    path: '/_synapse/admin/v1/rooms/{roomId}/messages',
    auth: 'admin',
    handler: async (r) => ({
      body: pageBody(
        (await r.rpc(r.clients.pagination, 'adminGetRoomMessages', { query: { ...messagesQuery(r), asJsonBody: true } })).page,
      ),
    }),
  },
  ...clientPaths('/rooms/{roomId}/context/{eventId}', { method: 'GET', auth: 'user', handler: (r) => eventContext(r, 'getEventContext') }),
  {
    method: 'GET',
    path: '/_synapse/admin/v1/rooms/{roomId}/context/{eventId}',
    auth: 'admin',
    handler: (r) => eventContext(r, 'adminGetEventContext'),
  },
  { method: 'POST', path: '/_synapse/admin/v1/purge_history/{roomId}', auth: 'admin', handler: purgeHistory },
  { method: 'POST', path: '/_synapse/admin/v1/purge_history/{roomId}/{eventId}', auth: 'admin', handler: purgeHistory },
  {
    method: 'GET',
    path: '/_synapse/admin/v1/purge_history_status/{purgeId}',
    auth: 'admin',
    handler: async (r) => {
      const s = await r.rpc(r.clients.pagination, 'getPurgeHistoryStatus', { purgeId: r.params.purgeId });
      const word = PURGE_STATUS.word(s.status) ?? 'active';
      // Synapse has no cancelled purges: report them as failed so clients stop polling.
      const status = word === 'cancelled' ? 'failed' : word;
      const error = s.error || (word === 'cancelled' ? 'cancelled' : undefined);
      // Synapse's body, plus `retry` while the purge waits to retry after a transient error.
      const retry = s.progress?.retry;
      return { body: { status, ...(error ? { error } : {}), ...(retry ? { retry } : {}) } };
    },
  },
];

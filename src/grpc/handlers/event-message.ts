/** EventView (the rooms module's read shape) → the proto `Event`, `content`/`unsigned` as JSON text. */
import type { Event } from '../../../gen/synapse/admin/v1/common';
import type { EventView } from '../../rooms/event.serializer';

export function toEventMessage(v: EventView): Event {
  return {
    eventId: v.eventId,
    roomId: v.roomId,
    type: v.type,
    stateKey: v.stateKey,
    sender: v.sender,
    contentJson: JSON.stringify(v.content),
    originServerTs: v.originServerTs,
    unsignedJson: JSON.stringify(v.unsigned),
    redacts: v.redacts,
    depth: v.depth,
    streamOrdering: v.streamOrdering,
    prevEvents: v.prevEvents,
    authEvents: v.authEvents,
    outlier: v.outlier,
    rejected: v.rejected,
  };
}

export const toEventMessages = (views: EventView[]): Event[] => views.map(toEventMessage);

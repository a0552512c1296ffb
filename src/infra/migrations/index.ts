/**
 * The ordered list of schema migrations. Append new ones at the end; never edit an applied one.
 */
import { Migration20261122000001Users } from './20261122000001-users';
import { Migration20261122000002RoomsEvents } from './20261122000002-rooms-events';
import { Migration20261122000003Tasks } from './20261122000003-tasks';
import { Migration20261122000005RoomStatsCounts } from './20261122000005-room-stats-counts';
import { Migration20261122000006PaginationPurgeIndexes } from './20261122000006-pagination-purge-indexes';
import { Migration20261201000007AuthInvalidation } from './20261201000007-auth-invalidation';
import { Migration20261201000008AccountData } from './20261201000008-account-data';
import { Migration20261202000009WriteGuard } from './20261202000009-write-guard';
import { Migration20261202000010ErasedUsers } from './20261202000010-erased-users';
import { Migration20261203000011RoomSearchColumns } from './20261203000011-room-search-columns';
import { Migration20261207000012UserProfileLastSeen } from './20261207000012-user-profile-last-seen';
import { Migration20261207000013ServerLeftRoom } from './20261207000013-server-left-room';
import { Migration20261207000014RoomAccountData } from './20261207000014-room-account-data';
import { Migration20261207000015UsersList } from './20261207000015-users-list';
import { Migration20261207000016Moderation } from './20261207000016-moderation';
import { Migration20261207000017TaskRequestId } from './20261207000017-task-request-id';
import { Migration20261207000018UserRestrictions } from './20261207000018-user-restrictions';
import { Migration20261207000019TaskTraceParent } from './20261207000019-task-trace-parent';
import { Migration20261207000020ClientIps } from './20261207000020-client-ips';
import { Migration20261207000021UserExternalIds } from './20261207000021-user-external-ids';
import { Migration20261208000022StateStreamIndex } from './20261208000022-state-stream-index';
import { Migration20261208000023MembershipCoveringIndexes } from './20261208000023-membership-covering-indexes';
import { Migration20261208000024MembershipReceivedTs } from './20261208000024-membership-received-ts';

export const MIGRATIONS = [
  { name: 'Migration20261122000001Users', class: Migration20261122000001Users },
  { name: 'Migration20261122000002RoomsEvents', class: Migration20261122000002RoomsEvents },
  { name: 'Migration20261122000003Tasks', class: Migration20261122000003Tasks },
  { name: 'Migration20261122000005RoomStatsCounts', class: Migration20261122000005RoomStatsCounts },
  { name: 'Migration20261122000006PaginationPurgeIndexes', class: Migration20261122000006PaginationPurgeIndexes },
  { name: 'Migration20261201000007AuthInvalidation', class: Migration20261201000007AuthInvalidation },
  { name: 'Migration20261201000008AccountData', class: Migration20261201000008AccountData },
  { name: 'Migration20261202000009WriteGuard', class: Migration20261202000009WriteGuard },
  { name: 'Migration20261202000010ErasedUsers', class: Migration20261202000010ErasedUsers },
  { name: 'Migration20261203000011RoomSearchColumns', class: Migration20261203000011RoomSearchColumns },
  { name: 'Migration20261207000012UserProfileLastSeen', class: Migration20261207000012UserProfileLastSeen },
  { name: 'Migration20261207000013ServerLeftRoom', class: Migration20261207000013ServerLeftRoom },
  { name: 'Migration20261207000014RoomAccountData', class: Migration20261207000014RoomAccountData },
  { name: 'Migration20261207000015UsersList', class: Migration20261207000015UsersList },
  { name: 'Migration20261207000016Moderation', class: Migration20261207000016Moderation },
  { name: 'Migration20261207000017TaskRequestId', class: Migration20261207000017TaskRequestId },
  { name: 'Migration20261207000018UserRestrictions', class: Migration20261207000018UserRestrictions },
  { name: 'Migration20261207000019TaskTraceParent', class: Migration20261207000019TaskTraceParent },
  { name: 'Migration20261207000020ClientIps', class: Migration20261207000020ClientIps },
  { name: 'Migration20261207000021UserExternalIds', class: Migration20261207000021UserExternalIds },
  { name: 'Migration20261208000022StateStreamIndex', class: Migration20261208000022StateStreamIndex },
  { name: 'Migration20261208000023MembershipCoveringIndexes', class: Migration20261208000023MembershipCoveringIndexes },
  { name: 'Migration20261208000024MembershipReceivedTs', class: Migration20261208000024MembershipReceivedTs },
];

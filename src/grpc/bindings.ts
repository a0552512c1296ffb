/**
 * Every gRPC service of the contract, bound to its handler over the typed services: the one place
 * where the server learns which handler serves which service.
 */
import { AccountDataServiceService } from '../../gen/synapse/admin/v1/account_data';
import { AuthServiceService } from '../../gen/synapse/admin/v1/auth';
import { ModerationServiceService, RoomDirectoryServiceService } from '../../gen/synapse/admin/v1/moderation';
import { PaginationServiceService } from '../../gen/synapse/admin/v1/pagination';
import { ProfileServiceService } from '../../gen/synapse/admin/v1/profile';
import { RoomAdminServiceService } from '../../gen/synapse/admin/v1/room_admin';
import { RoomServiceService } from '../../gen/synapse/admin/v1/rooms';
import { ServerServiceService } from '../../gen/synapse/admin/v1/server';
import { TaskSchedulerServiceService } from '../../gen/synapse/admin/v1/task_scheduler';
import { UserAdminServiceService } from '../../gen/synapse/admin/v1/user_admin';
import type { Services } from '../container';
import type { CallAdapter } from './adapter';
import type { ServiceBinding } from './server';
import { accountDataHandler } from './handlers/account-data.handler';
import { authHandler } from './handlers/auth.handler';
import { moderationHandler, roomDirectoryHandler } from './handlers/moderation.handler';
import { paginationHandler } from './handlers/pagination.handler';
import { profileHandler } from './handlers/profile.handler';
import { roomAdminHandler } from './handlers/room-admin.handler';
import { roomsHandler } from './handlers/rooms.handler';
import { serverHandler } from './handlers/server.handler';
import { taskSchedulerHandler } from './handlers/task-scheduler.handler';
import { userAdminHandler } from './handlers/user-admin.handler';

/** `shadowBanMaxDelayMs`: the longest wait before a shadow-banned user's swallowed request answers. */
export function grpcBindings(a: CallAdapter, s: Services, shadowBanMaxDelayMs: number): ServiceBinding[] {
  const reads = { list: s.userList, reads: s.userReads, devices: s.devices, accountData: s.accountData };
  return [
    { name: 'synapse.admin.v1.ServerService', definition: ServerServiceService, implementation: serverHandler(a) },
    { name: 'synapse.admin.v1.AuthService', definition: AuthServiceService, implementation: authHandler(a, s.users) },
    {
      name: 'synapse.admin.v1.AccountDataService',
      definition: AccountDataServiceService,
      implementation: accountDataHandler(a, s.accountData),
    },
    {
      name: 'synapse.admin.v1.UserAdminService',
      definition: UserAdminServiceService,
      implementation: userAdminHandler(a, s.users, s.profiles, (em, userId) => s.rooms.partUser(em, userId), reads),
    },
    { name: 'synapse.admin.v1.ProfileService', definition: ProfileServiceService, implementation: profileHandler(a, s.profileApi) },
    {
      name: 'synapse.admin.v1.TaskSchedulerService',
      definition: TaskSchedulerServiceService,
      implementation: taskSchedulerHandler(a, s.scheduler),
    },
    { name: 'synapse.admin.v1.RoomService', definition: RoomServiceService, implementation: roomsHandler(a, s, shadowBanMaxDelayMs) },
    {
      name: 'synapse.admin.v1.RoomAdminService',
      definition: RoomAdminServiceService,
      implementation: roomAdminHandler(a, { admin: s.roomAdmin, deletes: s.roomDeletes, memberships: s.roomMemberships }),
    },
    { name: 'synapse.admin.v1.PaginationService', definition: PaginationServiceService, implementation: paginationHandler(a, s) },
    {
      name: 'synapse.admin.v1.ModerationService',
      definition: ModerationServiceService,
      implementation: moderationHandler(a, {
        rooms: s.rooms,
        serializer: s.serializer,
        reports: s.reports,
        sizes: s.roomSizes,
        redactions: s.redactions,
      }),
    },
    {
      name: 'synapse.admin.v1.RoomDirectoryService',
      definition: RoomDirectoryServiceService,
      implementation: roomDirectoryHandler(a, s.publicRooms),
    },
  ];
}

import { AccountDataServiceService } from '../../gen/synapse/admin/v1/account_data';
import { AuthServiceService } from '../../gen/synapse/admin/v1/auth';
import { ServerServiceService } from '../../gen/synapse/admin/v1/server';
import { UserAdminServiceService } from '../../gen/synapse/admin/v1/user_admin';
import { accountDataHandler } from '../grpc/handlers/account-data.handler';
import { authHandler } from '../grpc/handlers/auth.handler';
import { serverHandler } from '../grpc/handlers/server.handler';
import { userAdminHandler } from '../grpc/handlers/user-admin.handler';
import { authRoutes } from '../gateway/routes/auth.routes';
import { serverRoutes } from '../gateway/routes/server.routes';
import { userRoutes } from '../gateway/routes/users.routes';
import type { AppModule, ModuleDeps } from '../module';
import type { RoomService } from '../rooms/room.service';
import { profileRoutes } from '../gateway/routes/profile.routes';
import { userAdminRoutes } from '../gateway/routes/user-admin.routes';
import { ProfileServiceService } from '../../gen/synapse/admin/v1/profile';
import { profileHandler } from '../grpc/handlers/profile.handler';
import { ProfileApiService } from './profile-api.service';
import { AccountDataService } from './account-data.service';
import { ProfileService } from './profile.service';
import { DeviceAdminService } from './device-admin.service';
import { UserListService } from './user-list.service';
import { UserReadsService } from './user-reads.service';

export function createUsersModule(d: ModuleDeps): AppModule {
  // The rooms module is built after this one: resolve it when a profile change needs it.
  const profiles = new ProfileService(() => {
    const rooms = d.registry.get('rooms') as RoomService;
    return (em, userId) => rooms.propagateProfile(em, userId);
  });
  d.registry.set('profiles', profiles);
  const accountData = new AccountDataService();
  const reads = { list: new UserListService(), reads: new UserReadsService(d.config.serverName, d.users.clientIps), devices: new DeviceAdminService(d.config.serverName, d.users.tokens, d.users.clientIps), accountData };
  return {
    name: 'users',
    bindings: [
      { name: 'synapse.admin.v1.ServerService', definition: ServerServiceService, implementation: serverHandler(d.adapter) },
      { name: 'synapse.admin.v1.AuthService', definition: AuthServiceService, implementation: authHandler(d.adapter, d.users) },
      { name: 'synapse.admin.v1.AccountDataService', definition: AccountDataServiceService, implementation: accountDataHandler(d.adapter, accountData) },
      { name: 'synapse.admin.v1.UserAdminService', definition: UserAdminServiceService, implementation: userAdminHandler(d.adapter, d.users, profiles, () => {
        const rooms = d.registry.get('rooms') as RoomService;
        return (em, userId) => rooms.partUser(em, userId);
      }, reads) },
      { name: 'synapse.admin.v1.ProfileService', definition: ProfileServiceService, implementation: profileHandler(d.adapter, new ProfileApiService(d.config.serverName, profiles, d.config.shadowBanMaxDelayMs)) },
    ],
    routes: [...serverRoutes, ...authRoutes, ...userRoutes, ...userAdminRoutes, ...profileRoutes],
  };
}

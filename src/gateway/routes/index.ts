/** Every REST route the gateway serves, in matching order. */
import type { Route } from '../router';
import { authRoutes } from './auth.routes';
import { moderationRoutes } from './moderation.routes';
import { paginationRoutes } from './pagination.routes';
import { profileRoutes } from './profile.routes';
import { roomAdminRoutes } from './room-admin.routes';
import { roomRoutes } from './rooms.routes';
import { serverRoutes } from './server.routes';
import { taskRoutes } from './tasks.routes';
import { userAdminRoutes } from './user-admin.routes';
import { userRoutes } from './users.routes';

export const ROUTES: Route[] = [
  ...serverRoutes,
  ...authRoutes,
  ...userRoutes,
  ...userAdminRoutes,
  ...profileRoutes,
  ...taskRoutes,
  ...roomRoutes,
  ...roomAdminRoutes,
  ...paginationRoutes,
  ...moderationRoutes,
];

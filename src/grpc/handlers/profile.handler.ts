import type { ProfileServiceServer } from '../../../gen/synapse/admin/v1/profile';
import type { ProfileField, ProfileReadService } from '../../users/profile-read.service';
import type { CallAdapter } from '../adapter';

const opt = (v: string | null | undefined) => (v === null ? undefined : v);

export function profileHandler(a: CallAdapter, profiles: ProfileReadService): ProfileServiceServer {
  return {
    getProfile: a.unary('none', async (req, ctx) => {
      const p = await profiles.getProfile(ctx.em, req.userId, (req.field as ProfileField | undefined) ?? null);
      return { displayname: opt(p.displayname), avatarUrl: opt(p.avatar_url) };
    }),
  };
}

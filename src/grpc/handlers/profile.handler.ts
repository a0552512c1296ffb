import type { ProfileServiceServer } from '../../../gen/synapse/admin/v1/profile';
import { requesterOf } from '../../context';
import type { ProfileApiService, ProfileField } from '../../users/profile-api.service';
import type { CallAdapter } from '../adapter';

const opt = (v: string | null | undefined) => (v === null ? undefined : v);

export function profileHandler(a: CallAdapter, profiles: ProfileApiService): ProfileServiceServer {
  return {
    getProfile: a.unary('none', async (req, ctx) => {
      const p = await profiles.getProfile(ctx.em, req.userId, (req.field as ProfileField | undefined) ?? null);
      return { displayname: opt(p.displayname), avatarUrl: opt(p.avatar_url) };
    }),
    setProfileField: a.unary('user', async (req, ctx) => {
      const given = req.bodyJson !== undefined ? { body: req.bodyJson } : req.value;
      await profiles.setField(ctx.em, requesterOf(ctx), req.userId, req.field as ProfileField, given, ctx.signal);
      return {};
    }),
  };
}

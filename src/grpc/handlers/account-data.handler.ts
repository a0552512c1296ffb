import type { AccountDataServiceServer } from '../../../gen/synapse/admin/v1/account_data';
import { requesterOf } from '../../context';
import type { AccountDataService } from '../../users/account-data.service';
import type { CallAdapter } from '../adapter';

export function accountDataHandler(a: CallAdapter, accountData: AccountDataService): AccountDataServiceServer {
  return {
    setAccountData: a.unary('user', async (req, ctx) => {
      await accountData.set(ctx.em, requesterOf(ctx), req.userId, req.type, req.contentJson);
      return {};
    }),
    getAccountData: a.unary('user', async (req, ctx) => ({
      contentJson: await accountData.get(ctx.em, requesterOf(ctx), req.userId, req.type),
    })),
    setRoomAccountData: a.unary('user', async (req, ctx) => {
      await accountData.setForRoom(ctx.em, requesterOf(ctx), req.userId, req.roomId, req.type, req.contentJson);
      return {};
    }),
    getRoomAccountData: a.unary('user', async (req, ctx) => ({
      contentJson: await accountData.getForRoom(ctx.em, requesterOf(ctx), req.userId, req.roomId, req.type),
    })),
  };
}

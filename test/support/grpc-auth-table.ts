/**
 * The gRPC auth table of an admin-only service: every method × {no token, unknown token,
 * non-admin token} must answer UNAUTHENTICATED M_MISSING_TOKEN / UNAUTHENTICATED M_UNKNOWN_TOKEN /
 * PERMISSION_DENIED M_FORBIDDEN, before any validation (each request is the method's empty message
 * unless `requestOf` gives one).
 */
import * as grpc from '@grpc/grpc-js';
import { bearer } from './stack';

type MethodDef = { path: string; requestSerialize(v: object): Buffer; responseDeserialize(b: Buffer): object };
type MessageType = { fromPartial(o: object): object };

/** The methods answering otherwise, as `<path> → <code> <errcode>` lines (empty when all hold). */
export async function adminAuthFailures(
  address: string,
  service: Record<string, unknown>,
  messages: Record<string, unknown>,
  userToken: string,
  requestOf: (name: string) => object = () => ({}),
): Promise<string[]> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = (m: MethodDef, md: grpc.Metadata) =>
    new Promise<grpc.ServiceError | null>((ok) => {
      const name = m.path.split('/').pop()!;
      const req = (messages[`${name}Request`] as MessageType).fromPartial(requestOf(name));
      client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, req, md, (err) => ok(err));
    });
  const cases: [() => grpc.Metadata, grpc.status, string][] = [
    [() => new grpc.Metadata(), grpc.status.UNAUTHENTICATED, 'M_MISSING_TOKEN'],
    [() => bearer('syt_not_a_token'), grpc.status.UNAUTHENTICATED, 'M_UNKNOWN_TOKEN'],
    [() => bearer(userToken), grpc.status.PERMISSION_DENIED, 'M_FORBIDDEN'],
  ];
  const failures: string[] = [];
  try {
    for (const m of Object.values(service) as MethodDef[]) {
      for (const [md, code, errcode] of cases) {
        const err = await call(m, md());
        if (!err || err.code !== code || err.metadata.get('matrix-errcode')[0] !== errcode)
          failures.push(`${m.path} → ${err?.code} ${err?.metadata?.get('matrix-errcode')}`);
      }
    }
  } finally {
    client.close();
  }
  return failures;
}

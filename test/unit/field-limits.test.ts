/**
 * Every string field of every RPC's request has a limit (issue 17 §1): the limits come from the
 * proto descriptors, so this walks all of them, and a new RPC or field is covered as it is added.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { ScalarType, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { MatrixError } from '../../src/errors';
import { FieldLimits, MAX_ID_BYTES } from '../../src/grpc/field-limits';
import { DESCRIPTOR_PATH } from '../../src/grpc/server';

const MAX_JSON = 1024 * 1024;
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTOR_PATH)));
const methods = [...registry]
  .filter((d) => d.kind === 'service' && d.typeName.startsWith('synapse.'))
  .flatMap((s) => (s.kind === 'service' ? s.methods.map((m) => ({ path: `/${s.typeName}/${m.name}`, input: m.input })) : []));

describe('field limits', () => {
  const limits = new FieldLimits(MAX_JSON);

  it('every string field of every request refuses an over-long value with a 4xx', () => {
    let fields = 0;
    const unbounded: string[] = [];
    for (const { path, input } of methods) {
      for (const f of input.fields) {
        const isString =
          (f.fieldKind === 'scalar' || (f.fieldKind === 'list' && f.listKind === 'scalar')) && f.scalar === ScalarType.STRING;
        if (!isString) continue;
        fields += 1;
        const big = 'y'.repeat(MAX_JSON + 1);
        const value = f.fieldKind === 'list' ? [big] : big;
        const request = f.oneof ? { [f.oneof.localName]: { $case: f.localName, value } } : { [f.localName]: value };
        try {
          limits.check(path, request);
          unbounded.push(`${path} ${f.name}`);
        } catch (err) {
          assert.ok(err instanceof MatrixError && err.httpStatus >= 400 && err.httpStatus < 500, `${path} ${f.name}: ${String(err)}`);
          assert.ok(err.message.length < 200, `${path} ${f.name}: the error does not echo the value`);
        }
      }
    }
    assert.ok(fields > 50, `only ${fields} string fields found`);
    assert.deepEqual(unbounded, []);
  });

  it('ids are bounded at 255 bytes, counted in UTF-8', () => {
    const path = '/synapse.admin.v1.RoomAdminService/GetRoomDetails';
    assert.doesNotThrow(() => limits.check(path, { roomId: 'a'.repeat(MAX_ID_BYTES) }));
    assert.throws(() => limits.check(path, { roomId: 'a'.repeat(MAX_ID_BYTES + 1) }), /'room_id' is too long/);
    assert.doesNotThrow(() => limits.check(path, { roomId: 'é'.repeat(127) }));
    assert.throws(() => limits.check(path, { roomId: 'é'.repeat(128) }), /'room_id' is too long/);
  });

  it('nested messages, repeated messages and Struct contents are checked too', () => {
    assert.throws(
      () => limits.check('/synapse.admin.v1.RoomService/CreateRoom', { initialState: [{ type: 'm.x', stateKey: 'k'.repeat(300) }] }),
      /'state_key' too large/,
    );
    assert.throws(
      () =>
        limits.check('/synapse.admin.v1.PaginationService/GetRoomMessages', {
          query: { roomId: '!a:b', filter: { types: ['t'.repeat(MAX_JSON + 1)] } },
        }),
      /'filter' is too long/,
    );
    assert.doesNotThrow(() =>
      limits.check('/synapse.admin.v1.PaginationService/GetRoomMessages', {
        query: { roomId: '!a:b', filter: { types: ['m.room.message'] } },
      }),
    );
  });
});

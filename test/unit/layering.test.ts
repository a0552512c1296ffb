/**
 * The import rules of eslint.config.mjs, run through ESLint's Node API on snippets placed at
 * paths of each layer: a forbidden import fails the lint, an allowed one passes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ESLint } from 'eslint';

const ROOT = join(__dirname, '../..');

describe('layering lint rule', () => {
  let eslint: ESLint;
  before(() => {
    eslint = new ESLint({ cwd: ROOT });
  });

  /** The no-restricted-imports messages for `source` imported from a file at `path`. */
  async function refusals(path: string, source: string): Promise<string[]> {
    const code = `import * as imported from '${source}';\nexport const used = imported;\n`;
    const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
    assert.equal(result.fatalErrorCount, 0, JSON.stringify(result.messages));
    return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
  }

  const forbidden: [string, string, RegExp][] = [
    ['src/rooms/new.service.ts', '../grpc/adapter', /know no transport/],
    ['src/rooms/new.service.ts', '../gateway/router', /know no transport/],
    ['src/pagination/new.service.ts', '../../gen/synapse/admin/v1/common', /know no transport/],
    ['src/matrix/new.ts', '../../gen/synapse/admin/v1/common', /know no transport/],
    ['src/tasks/new.ts', '@grpc/grpc-js', /gRPC belongs to src\/grpc/],
    ['src/users/new.ts', '../container', /composition root/],
    ['src/infra/new.ts', '../users/user.service', /Infra knows no domain/],
    ['src/infra/locks/new.ts', '../../rooms/room.service', /Infra knows no domain/],
    ['src/infra/new.ts', '../grpc/server', /know no transport/],
    ['src/gateway/routes/new.routes.ts', '../../rooms/room.service', /only over gRPC/],
    ['src/gateway/new.ts', '../admin/room-admin.types', /only over gRPC/],
    ['src/grpc/handlers/new.handler.ts', '../../gateway/router', /knows nothing of the REST gateway/],
  ];
  for (const [path, source, why] of forbidden) {
    it(`refuses ${source} in ${path}`, async () => {
      const messages = await refusals(path, source);
      assert.equal(messages.length, 1, `expected one refusal, got ${JSON.stringify(messages)}`);
      assert.match(messages[0], why);
    });
  }

  const allowed: [string, string][] = [
    ['src/rooms/new.service.ts', '../infra/orm'],
    ['src/rooms/new.service.ts', '../tasks/task.types'],
    ['src/admin/new.service.ts', '../matrix/ids'],
    ['src/infra/new.ts', '../errors'],
    ['src/gateway/routes/new.routes.ts', '../../matrix/event-formats'],
    ['src/gateway/routes/new.routes.ts', '../../../gen/synapse/admin/v1/rooms'],
    ['src/grpc/handlers/new.handler.ts', '../../rooms/room.service'],
    ['src/grpc/handlers/new.handler.ts', '../../../gen/synapse/admin/v1/rooms'],
    ['src/grpc/bindings.ts', '../container'],
    ['src/app.ts', './container'],
  ];
  for (const [path, source] of allowed) {
    it(`allows ${source} in ${path}`, async () => {
      assert.deepEqual(await refusals(path, source), []);
    });
  }
});

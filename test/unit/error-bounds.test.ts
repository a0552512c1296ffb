/**
 * Error text never grows with the input (issue 17 §1): the shared echo of a request value, and
 * the adapter's bound on every status it sends, whatever a message or its extra fields hold.
 */
import { strict as assert } from 'node:assert';
import { MAX_ECHO_CHARS, MatrixError, echo } from '../../src/errors';
import { MAX_ERROR_EXTRA_BYTES, toServiceError } from '../../src/grpc/adapter';
import { createLogger } from '../../src/logger';
import { MAX_STATUS_DETAILS_CHARS, META_ERROR_EXTRA } from '../../src/grpc/status';

const log = createLogger('silent');

describe('error bounds', () => {
  it('echo keeps short values and cuts long ones without splitting a surrogate pair', () => {
    assert.equal(echo('m.login.token'), 'm.login.token');
    assert.equal(echo('y'.repeat(100_000)), `${'y'.repeat(MAX_ECHO_CHARS)}…`);
    const emoji = `${'a'.repeat(MAX_ECHO_CHARS - 1)}😀😀`;
    assert.equal(echo(emoji), `${'a'.repeat(MAX_ECHO_CHARS - 1)}…`);
    assert.equal(echo(12345), '12345');
  });

  it('a status carries at most MAX_STATUS_DETAILS_CHARS of message, well-formed', () => {
    const s = toServiceError(new MatrixError(400, `Unknown login type ${'y'.repeat(100_000)}`), log);
    assert.ok(s.details!.length <= MAX_STATUS_DETAILS_CHARS + 1);
    assert.ok(s.details!.startsWith('Unknown login type yyy'));
    const lone = toServiceError(new MatrixError(400, 'bad \ud800 value'), log);
    assert.equal(lone.details, 'bad \ufffd value');
    assert.doesNotThrow(() => encodeURI(lone.details!));
  });

  it('extra body fields travel as ASCII JSON, and are dropped rather than sent past MAX_ERROR_EXTRA_BYTES', () => {
    const small = toServiceError(new MatrixError(403, 'x', 'M_X', { note: 'é😀' }), log);
    assert.deepEqual(JSON.parse(String(small.metadata!.get(META_ERROR_EXTRA)[0])), { note: 'é😀' });
    const big = toServiceError(new MatrixError(403, 'x', 'M_X', { note: 'y'.repeat(MAX_ERROR_EXTRA_BYTES) }), log);
    assert.deepEqual(big.metadata!.get(META_ERROR_EXTRA), []);
  });
});

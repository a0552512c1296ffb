import { strict as assert } from 'node:assert';
import { MatrixError } from '../../src/errors';
import { MAX_JSON_DEPTH, MAX_JSON_NUMBER_CHARS, parseJsonObjectText } from '../../src/json-text';

const parse = (text: string) => parseJsonObjectText(text, 'not json', 'not an object');
const errcodeOf = (text: string): string | null => {
  try {
    parse(text);
    return null;
  } catch (err) {
    assert.ok(err instanceof MatrixError);
    assert.equal(err.httpStatus, 400);
    return err.errcode;
  }
};
const nest = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

describe('JSON text limits (parseJsonObjectText)', () => {
  it('counts nesting outside strings only, up to MAX_JSON_DEPTH', () => {
    assert.equal(errcodeOf(`{"a":${nest(MAX_JSON_DEPTH - 1)}}`), null);
    assert.equal(errcodeOf(`{"a":${nest(MAX_JSON_DEPTH)}}`), 'M_NOT_JSON');
    assert.equal(errcodeOf(`{"a":"${'['.repeat(5_000)}","b":[{"c":"]]]}}}"}]}`), null);
    assert.equal(errcodeOf(`{"a":[${'{"b":[]},'.repeat(2_000)}{}]}`), null);
  });

  it('refuses lone surrogates, escaped or raw, in values and keys, and keeps pairs', () => {
    for (const bad of ['"\\ud800"', '"\\udc00"', '"\\ud800\\u0041"', '"\\ud800x"', '"x\\uDBFF"', '"\ud800"', '"\udc00\ud800"']) {
      assert.equal(errcodeOf(`{"a":${bad}}`), 'M_BAD_JSON', bad);
      assert.equal(errcodeOf(`{${bad}:1}`), 'M_BAD_JSON', bad);
    }
    for (const good of [
      '"\\ud83d\\ude00"',
      '"\\uD83D\\uDE00"',
      '"\ud83d\ude00"',
      '"\\\\ud800"',
      '"\\\\\\"\\ud83d\\ude00"',
      '"\\ud83d\ude00"',
      '"\ud83d\\ude00"',
      '"\\u00e9\\n\\t\\\\"',
    ]) {
      assert.equal(errcodeOf(`{"a":${good}}`), null, good);
    }
    assert.deepEqual(parse('{"a":"\\\\ud800"}'), { a: '\\ud800' });
  });

  it('refuses numbers that overflow a double or pass MAX_JSON_NUMBER_CHARS, in literal or exponent', () => {
    for (const bad of [
      '1e999999',
      '-1E+309',
      '1e-999999',
      '0e-999999',
      '0e1001',
      '9'.repeat(400),
      `0.${'1'.repeat(MAX_JSON_NUMBER_CHARS)}`,
    ]) {
      assert.equal(errcodeOf(`{"a":[${bad}]}`), 'M_BAD_JSON', bad.slice(0, 20));
    }
    for (const good of [
      '0',
      '-0',
      '1.5',
      '-12345678901234567890',
      '1e308',
      '1E+2',
      '1e-400',
      '5e-324',
      '0e1000',
      '9007199254740993',
      `0.${'1'.repeat(900)}`,
    ]) {
      assert.equal(errcodeOf(`{"a":${good},"b":"1e999999"}`), null, good.slice(0, 20));
    }
    assert.throws(() => parse(`{"a":${'9'.repeat(400)}}`), { message: 'JSON integer out of range' });
    assert.throws(() => parse('{"a":1e999999}'), { message: 'JSON number out of range' });
  });

  it('keeps its earlier answers: not JSON, not an object, NUL', () => {
    assert.equal(errcodeOf('{'), 'M_NOT_JSON');
    assert.equal(errcodeOf('[]'), 'M_BAD_JSON');
    assert.equal(errcodeOf('{"a":"\\u0000"}'), 'M_BAD_JSON');
  });
});

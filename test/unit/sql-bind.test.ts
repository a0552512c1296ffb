/**
 * How the SQL door turns `?` statements into what PostgreSQL receives: numbered placeholders with
 * the values beside them, never inside the text.
 */
import { strict as assert } from 'node:assert';
import { bindPlain, toNumbered } from '../../src/infra/sql';

describe('bindPlain (plain statements)', () => {
  it('numbers placeholders in order and keeps every value out of the text', () => {
    const evil = "x'); DROP TABLE users; --";
    const q = bindPlain('SELECT * FROM t WHERE a = ? AND b > ? AND c = ?::jsonb', [evil, 5, '{"k":"?"}']);
    assert.equal(q.text, 'SELECT * FROM t WHERE a = $1 AND b > $2 AND c = $3::jsonb');
    assert.deepEqual(q.values, [evil, 5, '{"k":"?"}']);
  });

  it('binds an array parameter as a list of values, as the raw bindings it replaces did', () => {
    const q = bindPlain('SELECT 1 FROM t WHERE a IN (?) AND b = ? AND c = ANY(ARRAY[?]::text[])', [['p', 'q', 'r'], 7, ['s']]);
    assert.equal(q.text, 'SELECT 1 FROM t WHERE a IN ($1, $2, $3) AND b = $4 AND c = ANY(ARRAY[$5]::text[])');
    assert.deepEqual(q.values, ['p', 'q', 'r', 7, 's']);
  });

  it('flattens nested arrays and turns an empty one into an empty list', () => {
    assert.deepEqual(bindPlain('VALUES (?)', [[1, [2, [3]]]]), { text: 'VALUES ($1, $2, $3)', values: [1, 2, 3] });
    assert.deepEqual(bindPlain('SELECT ARRAY[?]::text[], ?', [[], 'a']), { text: 'SELECT ARRAY[]::text[], $1', values: ['a'] });
  });

  it('binds undefined as NULL, also when a parameter is missing', () => {
    assert.deepEqual(bindPlain('SELECT ?, ?, ?', [undefined, null]), { text: 'SELECT $1, $2, $3', values: [null, null, null] });
  });

  it('keeps binary, boolean and object values as values', () => {
    const buf = Buffer.from([0, 1, 2]);
    const q = bindPlain('SELECT ?, ?, ?', [buf, false, { a: 1 }]);
    assert.equal(q.values[0], buf);
    assert.equal(q.values[1], false);
    assert.deepEqual(q.values[2], { a: 1 });
  });

  it('reads \\? as a literal question mark and refuses identifier bindings', () => {
    assert.deepEqual(bindPlain("SELECT content \\? 'k' FROM t WHERE id = ?", ['i']), {
      text: "SELECT content ? 'k' FROM t WHERE id = $1",
      values: ['i'],
    });
    assert.throws(() => bindPlain('SELECT ?? FROM t', ['col']), /identifier bindings/);
  });

  it('sends a statement given no parameters as written', () => {
    assert.deepEqual(bindPlain('SELECT 1', []), { text: 'SELECT 1', values: [] });
  });
});

describe('toNumbered (prepared statements)', () => {
  it('numbers ? and turns ARRAY[?]::text[] lists into one array parameter', () => {
    assert.equal(
      toNumbered('SELECT * FROM t WHERE a = ? AND b = ANY(ARRAY[?]::text[]) AND c = ANY(?::text[])'),
      'SELECT * FROM t WHERE a = $1 AND b = ANY($2::text[]) AND c = ANY($3::text[])',
    );
  });

  it('leaves a statement written with $n placeholders unchanged', () => {
    const text = 'DELETE FROM t WHERE a = $1 AND b = ANY($2::text[]) AND c = $1';
    assert.equal(toNumbered(text), text);
  });
});

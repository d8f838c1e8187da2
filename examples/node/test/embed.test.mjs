// client.embed() (libylokh 0.3) against the loopback server's embeddings scenarios.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Client, YlokhError } from 'ylokh';

const SERVER = process.env.YLOKH_TEST_SERVER;
const client = (scenario) => new Client({ baseURL: `${SERVER}/${scenario}/v1`, maxRetries: 0 });

test('embed gives one Float32Array per input, in order', () => {
  const c = client('emb');
  const vectors = c.embed(['hello world', 'abc']);
  assert.equal(vectors.length, 2);
  assert.ok(vectors.every((v) => v instanceof Float32Array));
  assert.deepEqual([...vectors[0]], [11, 104, 0.5, 0]);
  assert.deepEqual([...vectors[1]], [3, 97, 0.5, -1.25]);
  const one = c.embed('x', { model: 'm', params: { encoding_format: 'float' } });
  assert.deepEqual([...one[0]], [1, 120, 0.5, 0]);
  c.close();
});

test('embed throws what was wrong', () => {
  assert.throws(() => client('emb-nan').embed(['a']), (e) =>
    e instanceof YlokhError && e.statusName === 'YLOKH_PROTOCOL' && /non-finite value \(NaN\)/.test(e.message));
  assert.throws(() => client('emb-ctx').embed(['word '.repeat(40)]), (e) =>
    e instanceof YlokhError && e.statusName === 'YLOKH_HTTP_STATUS' && /context size/.test(e.message));
});

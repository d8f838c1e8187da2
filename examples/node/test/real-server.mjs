// ylokh for Node.js against the real local llama.cpp server (examples/local-llm.sh start), whose
// base URL is in YLOKH_LLM_URL. Run by tests/node.rs in the real-server tier only (not named
// *.test.mjs, so `npm test` leaves it out).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from 'ylokh';

const URL_ = process.env.YLOKH_LLM_URL;
assert.ok(URL_, 'YLOKH_LLM_URL (the local llama.cpp server)');
const ROOT = URL_.replace(/\/v1$/, '');
const QUESTION = [{ role: 'user', content: 'Why is the sky blue?' }];

async function slotsBusy() {
  const slots = await (await fetch(`${ROOT}/slots`)).json();
  return slots.filter((s) => s.is_processing).length;
}

test('a streamed answer at temperature 0 equals the complete one', async () => {
  const client = new Client({ baseURL: URL_, params: { temperature: 0, seed: 1, max_tokens: 32 } });
  let streamed = '';
  for await (const event of client.stream(QUESTION)) if (event.type === 'token') streamed += event.text;
  const whole = await client.complete(QUESTION);
  assert.ok(streamed.length > 0);
  assert.equal(streamed, whole.text);
  client.close();
});

test('aborting frees the server slot', async () => {
  const client = new Client({ baseURL: URL_ });
  const controller = new AbortController();
  let n = 0;
  let busy = -1;
  await assert.rejects(async () => {
    for await (const event of client.stream(QUESTION, { signal: controller.signal, params: { max_tokens: 2000, temperature: 1 } })) {
      if (event.type === 'token' && ++n === 5) {
        busy = await slotsBusy();
        controller.abort();
      }
    }
  }, (e) => e.statusName === 'YLOKH_CANCELLED');
  assert.equal(busy, 1, 'the server was generating when the signal aborted');
  const aborted = Date.now();
  while ((await slotsBusy()) > 0) {
    assert.ok(Date.now() - aborted < 10000, 'the server still generates 10 s after the abort');
    await new Promise((r) => setTimeout(r, 20));
  }
  client.close();
});

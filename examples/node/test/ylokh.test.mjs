// ylokh for Node.js against the loopback test server. tests/node.rs installs the package into a
// fresh directory, copies this file there (so that 'ylokh' is the installed package) and runs
// `node --test` with the server's address in YLOKH_TEST_SERVER and the checkout's
// tests/fixtures in YLOKH_TEST_FIXTURES.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client, Conversation, YlokhError, libraryPath, version } from 'ylokh';

const SERVER = process.env.YLOKH_TEST_SERVER;
assert.ok(SERVER, 'YLOKH_TEST_SERVER (the loopback server tests/node.rs starts)');
const FIXTURES = process.env.YLOKH_TEST_FIXTURES ?? fileURLToPath(new URL('../../../tests/fixtures/', import.meta.url));
const EXPECTED = JSON.parse(readFileSync(`${FIXTURES}/llama-nonstream.json`, 'utf8')).choices[0].message.content;
const MESSAGES = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello in three languages.' }];
const client = (scenario, options = {}) => new Client({ baseURL: `${SERVER}/${scenario}/v1`, ...options });

async function collect(iterable) {
  const events = [];
  for await (const event of iterable) events.push(event);
  return events;
}

function echoed(result) {
  const [head, ...rest] = result.text.split('\n\n');
  return [head.toLowerCase(), JSON.parse(rest.join('\n\n'))];
}

test('the library is YLOKH_LIB when set, else the package\'s or its checkout\'s', () => {
  if (process.env.YLOKH_LIB) assert.equal(libraryPath, process.env.YLOKH_LIB);
  else assert.match(libraryPath, /libylokh\.so$/);
  assert.match(version, /^0\./);
  const missing = spawnSync(process.execPath, ['--input-type=module', '-e', "import 'ylokh'"], {
    cwd: fileURLToPath(new URL('.', import.meta.url)), env: { ...process.env, YLOKH_LIB: '/nonexistent/libylokh.so' }, encoding: 'utf8',
  });
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /could not load libylokh \(\/nonexistent\/libylokh\.so\)/);
});

test('stream gives token events, then done with the result', async () => {
  const events = await collect(client('stream').stream(MESSAGES));
  const done = events.at(-1);
  assert.ok(events.length > 5);
  assert.deepEqual(new Set(events.slice(0, -1).map((e) => e.type)), new Set(['token']));
  assert.equal(events.slice(0, -1).map((e) => e.text).join(''), EXPECTED);
  assert.equal(done.type, 'done');
  assert.equal(done.result.text, EXPECTED);
  assert.equal(done.result.finishReason, 'length');
  assert.equal(done.result.httpStatus, 200);
  assert.deepEqual(done.result.toolCalls, []);
  assert.deepEqual(done.result.message, { role: 'assistant', content: EXPECTED });
});

test('complete gives the whole answer and its usage', async () => {
  const result = await client('nonstream').complete(MESSAGES);
  assert.equal(result.text, EXPECTED);
  assert.deepEqual(result.usage, { promptTokens: 29, completionTokens: 48, totalTokens: 77 });
  const streamed = await client('usageru').complete(MESSAGES, { stream: true });
  assert.ok(streamed.text.startsWith('Привет'));
  assert.equal(streamed.usage.totalTokens, 76);
});

test('reasoning comes as its own events', async () => {
  const events = await collect(client('reasoning').stream(MESSAGES));
  assert.deepEqual(events.slice(0, -1), [
    { type: 'reasoning', text: 'think' }, { type: 'reasoning', text: 'more' }, { type: 'token', text: 'answer' },
  ]);
  assert.equal(events.at(-1).result.reasoning, 'thinkmore');
});

test('model, params, headers and the API key reach the request', async () => {
  const c = client('echo', { apiKey: 'sk-test-7', model: 'default-model', params: { temperature: 0.5 }, headers: { 'X-Trace': 'abc' } });
  let [head, body] = echoed(await c.complete(MESSAGES, { params: { max_tokens: 7 } }));
  assert.ok(head.includes('authorization: bearer sk-test-7') && head.includes('x-trace: abc'), head);
  assert.equal(body.model, 'default-model');
  assert.equal(body.stream, false);
  assert.deepEqual(body.messages, MESSAGES);
  assert.equal(body.temperature, 0.5);
  assert.equal(body.max_tokens, 7);
  [, body] = echoed(await c.complete(MESSAGES, { model: 'other' }));
  assert.equal(body.model, 'other');
});

test('conversations keep every kind of message', async () => {
  const c = client('echo');
  const conversation = new Conversation([], { system: 'Be brief.' }).add('user', 'Hi!');
  const first = await c.complete(conversation);
  conversation.addResult(first).add('user', 'And now?');
  const [, body] = echoed(await c.complete(conversation));
  assert.deepEqual(body.messages.map((m) => m.role), ['system', 'user', 'assistant', 'user']);
  const rich = [
    { role: 'user', content: [{ type: 'text', text: 'What is the weather?' }] },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
  ];
  assert.deepEqual(echoed(await c.complete(rich))[1].messages, rich);
});

test('failures are YlokhError with status, HTTP status and message', async () => {
  await assert.rejects(client('503always', { maxRetries: 0 }).complete(MESSAGES), (e) => {
    assert.ok(e instanceof YlokhError);
    assert.equal(e.statusName, 'YLOKH_HTTP_STATUS');
    assert.equal(e.httpStatus, 503);
    assert.match(e.message, /busy/);
    return true;
  });
  await assert.rejects(collect(client('truncated').stream(MESSAGES)),
    (e) => e.statusName === 'YLOKH_INCOMPLETE' && e.httpStatus === 200);
  await assert.rejects(client('unauthorized', { apiKey: 'sk-secret-2' }).complete(MESSAGES),
    (e) => e.httpStatus === 401 && !String(e).includes('sk-secret-2'));
  assert.throws(() => new Client({ baseURL: 'ftp://nowhere' }), (e) => e.statusName === 'YLOKH_INVALID_ARGUMENT');
  await assert.rejects(new Client({ baseURL: 'http://127.0.0.1:9/v1', maxRetries: 0 }).complete(MESSAGES),
    (e) => e.statusName === 'YLOKH_CONNECT' && e.httpStatus === 0);
});

test('an AbortSignal cancels the request', async () => {
  const controller = new AbortController();
  const tokens = [];
  const started = Date.now();
  await assert.rejects(async () => {
    for await (const event of client('trickle').stream(MESSAGES, { signal: controller.signal })) {
      tokens.push(event.text);
      if (tokens.length === 3) controller.abort();
    }
  }, (e) => e instanceof YlokhError && e.statusName === 'YLOKH_CANCELLED');
  assert.deepEqual(tokens, ['t0 ', 't1 ', 't2 ']);
  assert.ok(Date.now() - started < 5000);
  // An already aborted signal: nothing starts.
  await assert.rejects(collect(client('trickle').stream(MESSAGES, { signal: AbortSignal.abort() })));
  // A timeout signal while waiting for the next token.
  await assert.rejects(collect(client('stall').stream(MESSAGES, { signal: AbortSignal.timeout(200) })),
    (e) => e.statusName === 'YLOKH_CANCELLED');
});

test('abort and leaving the loop close the connection (the library says so)', () => {
  // The library's own log records (YLOKH_LOG=debug prints them to stderr) in a child process.
  const program = `
    import { Client } from 'ylokh';
    const c = new Client({ baseURL: '${SERVER}/trickle/v1' });
    const m = [{ role: 'user', content: 'hi' }];
    let n = 0;
    for await (const e of c.stream(m)) if (++n === 2) break;
    const controller = new AbortController();
    try { for await (const e of c.stream(m, { signal: controller.signal })) controller.abort(); } catch {}
    await new Promise((r) => setTimeout(r, 200));
    c.close();`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', program], {
    cwd: fileURLToPath(new URL('.', import.meta.url)), env: { ...process.env, YLOKH_LOG: 'debug' }, encoding: 'utf8', timeout: 20000,
  });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stderr.split('request cancelled after').length - 1, 2, child.stderr);
});

test('the event loop keeps running during a slow stream', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const started = Date.now();
  for await (const event of client('slowstart').stream(MESSAGES)) void event; // 2 s of nothing, one token
  const elapsed = Date.now() - started;
  clearInterval(timer);
  // A loop blocked while the stream waits ticks once or twice (when the token comes); a free one
  // about 200 times in the 2 s (fewer on a loaded machine, but far more than 20).
  assert.ok(ticks >= 20, `${ticks} ticks in ${elapsed} ms`);
});

test('100 concurrent streams', async () => {
  const c = client('stream');
  const texts = await Promise.all(Array.from({ length: 100 }, async () => {
    const result = (await collect(c.stream(MESSAGES))).at(-1).result;
    return result.text;
  }));
  assert.deepEqual(texts, Array(100).fill(EXPECTED));
});

test('100 concurrent slow streams progress together', async () => {
  const c = client('trickle');
  const started = Date.now();
  const all = await Promise.all(Array.from({ length: 100 }, async () => {
    const tokens = [];
    for await (const event of c.stream(MESSAGES)) {
      tokens.push(event.text);
      if (tokens.length === 10) break; // 10 tokens at 20 ms each: ~0.2 s when they run at once
    }
    return tokens;
  }));
  assert.deepEqual(all, Array(100).fill(Array.from({ length: 10 }, (_, i) => `t${i} `)));
  assert.ok(Date.now() - started < 15000, `${Date.now() - started} ms (one after the other: 20 s)`);
});

test('api dialects: the same call over Responses and Messages', async () => {
  assert.throws(() => client('stream', { api: 'nonsense' }), (e) => e.statusName === 'YLOKH_INVALID_ARGUMENT');
  for (const [api, fixture, text] of [
    ['responses', 'responses-openai-text', 'Hi there! How can I help?'],
    ['messages', 'messages-tools', 'Checking both cities.'],
  ]) {
    const result = await client(`replay3-dialects.${fixture}`, { api }).complete(MESSAGES, { stream: true });
    assert.equal(result.text, text);
    if (api === 'messages') {
      assert.deepEqual(result.toolCalls.map((c) => c.function.name), ['get_weather', 'get_weather']);
      assert.equal(result.finishReason, 'tool_calls');
    }
  }
});

test('tool calls', async () => {
  const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }];
  for (const stream of [true, false]) {
    const events = await collect(client('toolcall').stream(MESSAGES, { tools, stream }));
    const calls = events.filter((e) => e.type === 'tool_call').map((e) => e.toolCall);
    assert.deepEqual(calls, [{ index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } }]);
    const result = events.at(-1).result;
    assert.equal(result.finishReason, 'tool_calls');
    assert.deepEqual(result.toolCalls, calls);
    assert.equal(result.message.tool_calls[0].function.name, 'weather');
  }
});

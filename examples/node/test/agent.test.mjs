// One start path (ylokh_chat_send with a conversation): the same tool loop, written once, against
// the loopback server's `agentloop` scenario in each wire dialect, which refuses a second request
// the way the real API does (a role:"tool" message to the Messages or Responses API, a result
// without its call, ...). And what the Client gained: resume, the first-token timeout, and a log
// handler. tests/node.rs runs it with the server's address in YLOKH_TEST_SERVER.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client, Conversation, YlokhError, setLogHandler } from 'ylokh';

const SERVER = process.env.YLOKH_TEST_SERVER;
assert.ok(SERVER, 'YLOKH_TEST_SERVER (the loopback server tests/node.rs starts)');
const TOOLS = [{
  type: 'function',
  function: {
    name: 'calc', description: 'Computes a op b.',
    parameters: { type: 'object', properties: { a: { type: 'number' }, op: { type: 'string' }, b: { type: 'number' } }, required: ['a', 'op', 'b'] },
  },
}];
const QUESTION = 'What is 17 times 23?';
const FINAL = 'The answer: 17 times 23 is 391.';

function calc({ a, op, b }) {
  return String({ '+': a + b, '-': a - b, '*': a * b, '/': a / b }[op]);
}

async function finish(stream) {
  let result = null;
  for await (const event of stream) if (event.type === 'done') result = event.result;
  return result;
}

/** The tool loop as a user writes it: send, run each call, add its result, send again. */
async function runLoop(client, stream, maxSteps = 4) {
  const conversation = new Conversation([], { system: 'Use the calc tool.' }).add('user', QUESTION);
  const calls = [];
  for (let step = 1; step <= maxSteps; step++) {
    const result = stream ? await finish(client.stream(conversation, { tools: TOOLS }))
      : await client.complete(conversation, { tools: TOOLS });
    conversation.addResult(result);
    if (result.toolCalls.length === 0) return { step, text: result.text, calls };
    for (const call of result.toolCalls) {
      const args = JSON.parse(call.function.arguments);
      calls.push([call.function.name, args]);
      conversation.addToolResult(call.id, calc(args));
    }
  }
  throw new Error(`no final answer within ${maxSteps} steps`);
}

for (const api of ['chat', 'responses', 'messages']) {
  for (const stream of [true, false]) {
    test(`the same tool loop completes over ${api} (${stream ? 'streamed' : 'whole'})`, async () => {
      const client = new Client({ baseURL: `${SERVER}/agentloop/v1`, api });
      const { step, text, calls } = await runLoop(client, stream);
      assert.deepEqual([step, text], [2, FINAL]);
      assert.deepEqual(calls, [['calc', { a: 17, op: '*', b: 23 }]]);
      client.close();
    });
  }
}

test('the loopback server refuses chat-format tool messages sent raw, as the real APIs do', async () => {
  // What the 0.2 package did with such a history: the chat messages as a raw "messages" body key.
  const history = [
    { role: 'user', content: QUESTION },
    { role: 'assistant', content: 'Let me compute that.', tool_calls: [{ id: 'call_calc_1', type: 'function', function: { name: 'calc', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'call_calc_1', content: '391' },
  ];
  for (const api of ['responses', 'messages']) {
    const client = new Client({ baseURL: `${SERVER}/agentloop/v1`, api });
    await assert.rejects(client.complete([history[0]], { tools: TOOLS, params: { messages: history } }),
      (e) => e instanceof YlokhError && e.httpStatus === 400);
    // The same history as messages: translated, answered.
    assert.equal((await client.complete(history, { tools: TOOLS })).text, FINAL);
  }
});

test('messages must be objects with a role', async () => {
  const client = new Client({ baseURL: `${SERVER}/echo/v1` });
  await assert.rejects(client.complete([{ role: 'user', content: 'hi' }, 'hello']),
    (e) => e.statusName === 'YLOKH_INVALID_ARGUMENT' && e.message.startsWith('messages[1] is a string'));
  await assert.rejects(client.complete([{ content: 'no role' }]),
    (e) => e.statusName === 'YLOKH_INVALID_ARGUMENT' && e.message.startsWith('messages[0]: '));
});

/** tests/support/mod.rs resume_text(): what the resumable scenarios stream. */
const resumeText = () => Array.from({ length: 40 }, (_, i) => `${[' wörld', ' 日本語', ' 😀', ' naïve', ' plain'][i % 5]}${i}`).join('');

test('resume carries a broken stream to its end', async () => {
  const messages = [{ role: 'user', content: 'hi' }];
  const resumed = await new Client({ baseURL: `${SERVER}/resume-500-node/v1`, resume: true }).complete(messages, { stream: true });
  assert.equal(resumed.text, resumeText());
  await assert.rejects(new Client({ baseURL: `${SERVER}/resume-500-node2/v1`, maxRetries: 0 }).complete(messages, { stream: true }),
    (e) => e.statusName === 'YLOKH_INCOMPLETE');
});

test('the first-token timeout ends a stalled prefill, and lets a slow one pass', async () => {
  const messages = [{ role: 'user', content: 'hi' }];
  const started = Date.now();
  await assert.rejects(new Client({ baseURL: `${SERVER}/stallfirst/v1`, firstTokenTimeout: 300, maxRetries: 0 }).complete(messages, { stream: true }),
    (e) => e.statusName === 'YLOKH_TIMEOUT' && e.message.includes('first-token timeout'));
  assert.ok(Date.now() - started < 10000); // the scenario stays silent for 30 s
  const slow = new Client({ baseURL: `${SERVER}/slowprefill/v1`, firstTokenTimeout: 5000 });
  assert.equal((await slow.complete(messages, { stream: true })).text, 'slow prefill done');
});

test('a log handler gets the library\'s records from its threads', async () => {
  const records = [];
  await setLogHandler((level, message) => records.push([level, message]), 4);
  try {
    const client = new Client({ baseURL: `${SERVER}/stream/v1`, apiKey: 'sk-log-secret' });
    await Promise.all(Array.from({ length: 8 }, () => client.complete([{ role: 'user', content: 'hi' }], { stream: true })));
    // "request done" is written on a library thread as each request ends.
    assert.equal(records.filter(([, m]) => m.startsWith('request done: YLOKH_OK')).length, 8, JSON.stringify(records));
    assert.ok(records.every(([level]) => level >= 1 && level <= 4));
    assert.ok(!JSON.stringify(records).includes('sk-log-secret'));
    client.close();
  } finally {
    await setLogHandler(null);
  }
  // Off: no more records.
  const before = records.length;
  await new Client({ baseURL: `${SERVER}/stream/v1` }).complete([{ role: 'user', content: 'hi' }], { stream: true });
  assert.equal(records.length, before);
  await assert.rejects(setLogHandler('not a function'), (e) => e.statusName === 'YLOKH_INVALID_ARGUMENT');
});

test('closing a client with requests running while a log handler is set does not deadlock', () => {
  // ylokh_client_free waits for each request's end, whose log record must reach the handler on
  // the main thread. In a child process, so that a deadlock is a timeout here, not a hang.
  const program = `
    import { Client, setLogHandler } from 'ylokh';
    const records = [];
    await setLogHandler((level, message) => records.push(message), 4);
    const busy = new Client({ baseURL: '${SERVER}/trickle/v1' });
    const running = Array.from({ length: 4 }, async () => {
      try { for await (const e of busy.stream([{ role: 'user', content: 'hi' }])) void e; } catch (e) { return e.statusName; }
    });
    await new Promise((r) => setTimeout(r, 100));
    busy.close();
    console.log((await Promise.all(running)).join(' '));
    await new Promise((r) => setTimeout(r, 200));
    console.log(records.filter((m) => m.includes('YLOKH_CANCELLED')).length);
    await setLogHandler(null);`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', program], {
    cwd: fileURLToPath(new URL('.', import.meta.url)), encoding: 'utf8', timeout: 20000,
  });
  assert.equal(child.signal, null, `deadlocked (killed after 20 s): ${child.stderr}`);
  assert.equal(child.status, 0, child.stderr);
  const [statuses, cancelled] = child.stdout.trim().split('\n');
  assert.equal(statuses, Array(4).fill('YLOKH_CANCELLED').join(' '));
  assert.ok(Number(cancelled) >= 4, child.stdout);
});

test('a library without the 0.2 functions is refused at import, naming what it lacks', () => {
  // libc stands in for an old libylokh: it loads, and has none of them.
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', "import 'ylokh'"], {
    cwd: fileURLToPath(new URL('.', import.meta.url)), env: { ...process.env, YLOKH_LIB: 'libc.so.6' }, encoding: 'utf8',
  });
  assert.notEqual(child.status, 0);
  assert.match(child.stderr, /needs libylokh 0\.2 or newer/);
  assert.match(child.stderr, /ylokh_chat_send/);
});

// Client.runTools (the library's agent runner, ylokh_agent_run) and McpSession, against the
// loopback server's `agentloop` scenario in each wire dialect and the fake MCP server
// (tests/mcp/fake_server.c, built by tests/node.rs; its path in YLOKH_FAKE_MCP).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, Conversation, McpSession, YlokhError } from 'ylokh';

const SERVER = process.env.YLOKH_TEST_SERVER;
const FAKE = process.env.YLOKH_FAKE_MCP;
assert.ok(SERVER && FAKE, 'YLOKH_TEST_SERVER and YLOKH_FAKE_MCP (tests/node.rs sets them)');
const TOOLS = [{
  type: 'function',
  function: {
    name: 'calc', description: 'Computes a op b.',
    parameters: { type: 'object', properties: { a: { type: 'number' }, op: { type: 'string' }, b: { type: 'number' } }, required: ['a', 'op', 'b'] },
  },
}];
const QUESTION = 'What is 17 times 23?';
const FINAL = 'The answer: 17 times 23 is 391.';
const calc = ({ a, op, b }) => String({ '+': a + b, '-': a - b, '*': a * b, '/': a / b }[op]);

for (const api of ['chat', 'responses', 'messages']) {
  test(`runTools runs a JS tool function over ${api}`, async () => {
    const client = new Client({ baseURL: `${SERVER}/agentloop/v1`, api });
    const conversation = new Conversation().add('user', QUESTION);
    const tokens = [], calls = [], steps = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1); // the event loop keeps running meanwhile
    const run = await client.runTools(conversation, {
      tools: TOOLS, functions: { calc }, onToken: (t) => tokens.push(t),
      onToolCall: (call) => calls.push(call.function.name), onStep: (step) => steps.push(step),
    });
    clearInterval(timer);
    assert.deepEqual([run.answered, run.steps, run.result.text], [true, 2, FINAL]);
    assert.equal(tokens.join(''), `Let me compute that.${FINAL}`);
    assert.deepEqual([calls, steps], [['calc'], [1]]);
    assert.deepEqual(conversation.messages.map((m) => m.role), ['user', 'assistant', 'tool']);
    assert.equal(conversation.messages[2].content, '391');
    assert.ok(ticks > 0);
    client.close();
  });

  test(`runTools calls the fake MCP server's tool over ${api}`, async () => {
    const client = new Client({ baseURL: `${SERVER}/agentloop/v1`, api });
    const session = McpSession.connect(client, { argv: [FAKE], name: 'fake' });
    const history = [{ role: 'user', content: QUESTION }];
    const run = await client.runTools(history, { sessions: [session] });
    assert.deepEqual([run.answered, run.result.text], [true, FINAL]);
    assert.equal(history[2].content, '391'); // an array is updated in place
    session.close();
    client.close();
  });
}

test('a tool that throws is an error result the model sees; a callback that throws stops the run', async () => {
  const client = new Client({ baseURL: `${SERVER}/agentloop/v1` });
  const run = await client.runTools([{ role: 'user', content: QUESTION }], {
    tools: TOOLS, functions: { calc: () => { throw new RangeError('boom'); } },
  });
  assert.equal(run.result.text, 'The answer: 17 times 23 is Error: RangeError: boom.');
  await assert.rejects(client.runTools([{ role: 'user', content: QUESTION }], {
    tools: TOOLS, functions: { calc }, onToken: () => { throw new SyntaxError('stop'); },
  }), SyntaxError);
  await assert.rejects(client.runTools([{ role: 'user', content: QUESTION }], {
    tools: TOOLS, functions: { calc: async () => '391' },
  }), /synchronous tool functions/);
  const short = await client.runTools([{ role: 'user', content: QUESTION }], { tools: TOOLS, functions: { calc }, maxSteps: 1 });
  assert.deepEqual([short.answered, short.steps], [false, 1]);
  await assert.rejects(client.runTools([{ role: 'user', content: QUESTION }], { functions: { calc } }),
    (e) => e instanceof YlokhError && e.statusName === 'YLOKH_HTTP_STATUS');
  client.close();
});

test('McpSession lists, calls, and reports a changed tool list', async () => {
  const client = new Client({ baseURL: 'http://127.0.0.1:9/v1' });
  const s = McpSession.connect(client, { argv: [FAKE], env: { FAKE_MCP_GREETING: 'js ' } });
  assert.equal(s.tools()[0].function.name, 'echo');
  assert.equal(s.tools('fake')[0].function.name, 'fake_echo');
  assert.equal(s.call('echo', { text: 'hi' }).text, 'js hi');
  assert.deepEqual(s.call('fail'), { text: 'it broke', isError: true, content: [{ type: 'text', text: 'it broke' }], structured: null });
  assert.throws(() => s.call('nope'), (e) => e.statusName === 'YLOKH_SERVER_ERROR');
  assert.throws(() => s.call('slow', {}, { timeout: 200 }), (e) => e.statusName === 'YLOKH_TIMEOUT');
  s.call('change');
  for (let i = 0; i < 200 && !s.toolsChanged; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(s.toolsChanged);
  assert.throws(() => s.call('echo', { text: 'x' }), (e) => e.statusName === 'YLOKH_PROTOCOL');
  s.acceptTools();
  assert.equal(s.call('echo', { text: 'y' }).text, 'js y');
  s.close();
  assert.throws(() => s.tools(), YlokhError);
  client.close();
});

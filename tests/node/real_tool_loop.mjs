// The tool loop against a real model: node real_tool_loop.mjs BASE_URL chat|responses|messages.
// tests/local_llm.rs runs it (with tests/cpp/real_tool_loop.cpp and
// tests/python/real_tool_loop.py) against llama-server with the Hermes 2 Pro tool-use template
// (tests/support/local.rs says why step 1 carries an assistant prefill "<tool_call>\n" and a
// required tool choice: the 135M model writes no call otherwise). The loop is the README's:
// client.stream with tools, Conversation.addResult (the assistant's message as the library gave
// it) and addToolResult. Prints each step and each call as `  calc(ARGUMENTS) = RESULT`; exit
// status 0 once an answer without calls came after the tool results.
import { Client, Conversation } from 'ylokh';

const TOOLS = [{
  type: 'function',
  function: {
    name: 'calc', description: 'Calculate a op b',
    parameters: {
      type: 'object',
      properties: { a: { type: 'number' }, op: { type: 'string', enum: ['+', '-', '*', '/'] }, b: { type: 'number' } },
      required: ['a', 'op', 'b'],
    },
  },
}];
const SYSTEM = 'You are a helpful assistant. Use the tools.';
const QUESTION = 'What is 17 times 23? Use the calc tool.';

function calc({ a, op, b }) {
  const r = { '+': a + b, '-': a - b, '*': a * b, '/': b ? a / b : 0 }[op];
  return String(r);
}

const [baseURL, api] = process.argv.slice(2);
const choice = (required) => (api === 'messages' ? { type: required ? 'any' : 'auto' } : required ? 'required' : 'auto');
// 15 minutes per request: the machine may be loaded (step 1 takes ~30 s at a load of 6).
const client = new Client({ baseURL, api, maxRetries: 0, timeout: 900_000 });

async function send(conversation, params) {
  let result = null;
  for await (const event of client.stream(conversation, { tools: TOOLS, params })) {
    if (event.type === 'done') result = event.result;
  }
  return result;
}

const prefilled = new Conversation([], { system: SYSTEM }).add('user', QUESTION).add('assistant', '<tool_call>\n');
let result = await send(prefilled, { tool_choice: choice(true), temperature: 0, max_tokens: 128 });
console.log(`step 1: ${result.toolCalls.length} calls, finish ${result.finishReason}`);
if (result.toolCalls.length === 0) process.exit(1);
const conversation = new Conversation([], { system: SYSTEM }).add('user', QUESTION);
for (let step = 2; step <= 4; step++) {
  conversation.addResult(result);
  for (const call of result.toolCalls) {
    const output = calc(JSON.parse(call.function.arguments));
    console.log(`  ${call.function.name}(${call.function.arguments}) = ${output}`);
    conversation.addToolResult(call.id, output);
  }
  result = await send(conversation, { tool_choice: choice(false), temperature: 0, max_tokens: 48 });
  console.log(`step ${step}: ${result.toolCalls.length} calls, finish ${result.finishReason}, text: ${result.text}`);
  if (result.toolCalls.length === 0) {
    if (!result.text.trim()) process.exit(1);
    console.log(`final: ${result.text}`);
    client.close();
    process.exit(0);
  }
}
console.error('no final answer within 4 steps');
process.exit(1);

// The tool loop written once in Node: ask, run each get_weather call, add the assistant's
// message (result.message, which keeps the reasoning and each call's extras the server needs
// back) and the results, ask again, until an answer without calls. tests/node.rs runs it
// against each provider of issue 20's table (tests/support/providers.rs).
//
//     node weather_loop.mjs BASE_URL [API [MODEL]]      (API: chat, responses or messages)
//
// YLOKH_PARAMS: default body keys (a JSON object). Prints each step and the final text; exits
// non-zero on any error.
import { Client, Conversation } from 'ylokh';

const TOOLS = [{
  type: 'function',
  function: {
    name: 'get_weather', description: 'Weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}];

const getWeather = ({ city }) => (city === 'Paris' ? '18°C, sunny' : `no weather for ${city}`);

const [baseURL, api = 'chat', model] = process.argv.slice(2);
const params = JSON.parse(process.env.YLOKH_PARAMS || '{}');
const client = new Client({ baseURL, apiKey: 'sk-test', api, model, params, maxRetries: 0 });
const conversation = new Conversation().add('user', 'Weather in Paris?');
for (let step = 1; step <= 4; step++) {
  let result = null;
  for await (const event of client.stream(conversation, { tools: TOOLS })) {
    if (event.type === 'done') result = event.result;
  }
  conversation.addResult(result);
  if (result.toolCalls.length === 0) {
    console.log(`--- final answer after ${step} steps:\n${result.text}`);
    process.exit(0);
  }
  for (const call of result.toolCalls) {
    const output = getWeather(JSON.parse(call.function.arguments));
    console.log(`[tool call ${call.id}] ${call.function.name}(${call.function.arguments}) -> ${output}`);
    conversation.addToolResult(call.id, output);
  }
}
console.error('no final answer after 4 steps');
process.exit(1);

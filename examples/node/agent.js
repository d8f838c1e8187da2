// MCP sessions (ylokh_mcp_connect) and Client.runTools (the library's agent runner,
// ylokh_agent_run), libylokh 0.3. index.js exports them.
//
// Threads: the runner calls its callbacks (tokens, tool functions, steps, the end) on library
// threads; koffi queues each to the main thread and holds the library thread until the JS
// function has returned. So the main thread must stay free while a run goes: the run is waited
// for with koffi async calls on libuv's pool, never with a blocking wait on the main thread.
import * as c from './lib.js';
import { Conversation, YlokhError, callbacksReachJs } from './index.js';

const { koffi } = c;
export const has03Agent = c.has('ylokh_agent_run') && c.has('ylokh_mcp_connect');

let ffi = null;
let protos = null;
function load() {
  if (ffi) return ffi;
  if (!has03Agent) {
    throw new YlokhError(c.INVALID_ARGUMENT, `MCP sessions and runTools need libylokh 0.3 (the loaded library, ${c.libraryPath}, is ${c.version})`);
  }
  koffi.opaque('ylokh_mcp_session');
  koffi.opaque('ylokh_agent');
  koffi.opaque('ylokh_tool_reply');
  koffi.struct('ylokh_mcp_server', {
    struct_size: 'size_t', name: 'const char *', argv: 'const char **', argc: 'size_t', env: 'const char **',
    n_env: 'size_t', url: 'const char *', headers: 'const char **', n_headers: 'size_t', connect_timeout_ms: 'uint64_t',
  });
  koffi.struct('ylokh_tool_result', {
    text: 'void *', text_len: 'size_t', is_error: 'bool', content_json: 'const char *', structured_json: 'const char *',
  });
  koffi.struct('ylokh_tool_call', {
    index: 'uint32_t', id: 'const char *', name: 'const char *', arguments: 'void *', arguments_len: 'size_t',
    arguments_valid: 'bool',
  });
  protos = {
    text: koffi.proto('int ylokh_agent_text_fn(void *user_data, void *text, size_t len)'),
    call: koffi.proto('int ylokh_agent_call_fn(void *user_data, void *call)'),
    tool: koffi.proto('int ylokh_agent_tool_fn(void *user_data, void *call, ylokh_tool_reply *reply)'),
    step: koffi.proto('int ylokh_agent_step_fn(void *user_data, uint32_t step, void *result)'),
    done: koffi.proto('void ylokh_agent_done_fn(void *user_data, void *result)'),
  };
  koffi.struct('ylokh_agent_request', {
    struct_size: 'size_t', conversation: 'ylokh_conversation *', model: 'const char *', tools_json: 'const char *',
    params_json: 'const char *', stream: 'bool', sessions: 'ylokh_mcp_session **', n_sessions: 'size_t',
    max_steps: 'uint32_t', tool_timeout_ms: 'uint64_t', user_data: 'void *',
    on_token: 'ylokh_agent_text_fn *', on_reasoning: 'ylokh_agent_text_fn *', on_chunk: 'ylokh_agent_text_fn *',
    on_tool_call_delta: 'ylokh_agent_call_fn *', on_tool_call: 'ylokh_agent_call_fn *', on_tool: 'ylokh_agent_tool_fn *',
    on_step: 'ylokh_agent_step_fn *', on_done: 'ylokh_agent_done_fn *',
    first_params_json: 'const char *', first_prefill: 'const char *',
  });
  const lib = koffi.load(c.libraryPath);
  ffi = {
    connect: lib.func('uint32_t ylokh_mcp_connect(ylokh_client *client, const ylokh_mcp_server *server, _Out_ ylokh_mcp_session **out)'),
    tools: lib.func('uint32_t ylokh_mcp_session_tools(ylokh_mcp_session *s, const char *prefix, uint64_t timeout_ms, _Out_ const char **out)'),
    toolsChanged: lib.func('bool ylokh_mcp_session_tools_changed(ylokh_mcp_session *s)'),
    acceptTools: lib.func('uint32_t ylokh_mcp_session_accept_tools(ylokh_mcp_session *s, uint64_t timeout_ms)'),
    call: lib.func('uint32_t ylokh_mcp_session_call(ylokh_mcp_session *s, const char *tool, const char *args, uint64_t timeout_ms, _Out_ ylokh_tool_result **out)'),
    resultFree: lib.func('void ylokh_tool_result_free(ylokh_tool_result *r)'),
    sessionFree: lib.func('void ylokh_mcp_session_free(ylokh_mcp_session *s)'),
    run: lib.func('uint32_t ylokh_agent_run(ylokh_client *client, const ylokh_agent_request *req, _Out_ ylokh_agent **out)'),
    wait: lib.func('uint32_t ylokh_agent_wait(ylokh_agent *a, uint64_t timeout_ms)'),
    cancel: lib.func('uint32_t ylokh_agent_cancel(ylokh_agent *a)'),
    free: lib.func('void ylokh_agent_free(ylokh_agent *a)'),
    replySet: lib.func('uint32_t ylokh_tool_reply_set(ylokh_tool_reply *reply, const char *text, bool is_error)'),
    conversationJson: lib.func('const char *ylokh_conversation_json(ylokh_conversation *c)'),
  };
  return ffi;
}

function check(status) {
  if (status !== c.OK) throw new YlokhError(status, c.ffi.last_error() ?? '');
}

const ms = (seconds, fallback) => Math.max(1, Math.round(seconds ?? fallback));

/**
 * An MCP server's session: `McpSession.connect(client, { argv, env, url, headers, name,
 * connectTimeout })` (argv: a program over stdio, env added to this process's; url: Streamable
 * HTTP, headers' values never reach a message or a log record). Synchronous like embed(): the
 * library's error text is per thread, so the calls stay on this one.
 */
export class McpSession {
  static connect(client, { argv, env, url, headers, name, connectTimeout = 30000 } = {}) {
    const f = load();
    if (!client?.handle) throw new YlokhError(c.INVALID_ARGUMENT, 'the client is closed');
    const envList = Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`);
    const headerList = Object.entries(headers ?? {}).map(([k, v]) => `${k}: ${v}`);
    const out = [null];
    check(f.connect(client.handle, {
      struct_size: koffi.sizeof('ylokh_mcp_server'), name: name ?? null,
      argv: argv?.length ? argv : null, argc: argv?.length ?? 0,
      env: envList.length ? envList : null, n_env: envList.length, url: url ?? null,
      headers: headerList.length ? headerList : null, n_headers: headerList.length, connect_timeout_ms: ms(connectTimeout),
    }, out));
    return new McpSession(out[0], client);
  }

  constructor(handle, client) {
    this.handle = handle;
    this.client = client;
  }

  live() {
    if (!this.handle) throw new YlokhError(c.INVALID_ARGUMENT, 'the MCP session is closed');
    return this.handle;
  }

  /** The server's tools as chat-format definitions (names "PREFIX_NAME" with a prefix). */
  tools(prefix = null, { timeout = 30000 } = {}) {
    const out = [null];
    check(load().tools(this.live(), prefix, ms(timeout), out));
    return JSON.parse(out[0] ?? '[]');
  }

  /** Whether the tool list changed since it was accepted (calls fail until acceptTools()). */
  get toolsChanged() {
    return load().toolsChanged(this.live());
  }

  acceptTools({ timeout = 30000 } = {}) {
    check(load().acceptTools(this.live(), ms(timeout)));
  }

  /** Calls `tool`: { text, isError, content, structured }; no answer throws YlokhError. */
  call(tool, args = {}, { timeout = 30000 } = {}) {
    const f = load();
    const out = [null];
    check(f.call(this.live(), tool, JSON.stringify(args ?? {}), ms(timeout), out));
    try {
      const r = koffi.decode(out[0], 'ylokh_tool_result');
      const n = Number(r.text_len);
      return {
        text: n ? Buffer.from(koffi.decode(r.text, 'uint8_t', n)).toString('utf8') : '',
        isError: r.is_error,
        content: r.content_json ? JSON.parse(r.content_json) : [],
        structured: r.structured_json ? JSON.parse(r.structured_json) : null,
      };
    } finally {
      f.resultFree(out[0]);
    }
  }

  /** Ends the session (a stdio server is killed with its children). */
  close() {
    if (this.handle) {
      load().sessionFree(this.handle);
      this.handle = null;
    }
  }
}

const text = (ptr, len) => (Number(len) ? Buffer.from(koffi.decode(ptr, 'uint8_t', Number(len))).toString('utf8') : '');

function toolCallOf(ptr) {
  const v = koffi.decode(ptr, 'ylokh_tool_call');
  return { index: v.index, id: v.id ?? '', type: 'function',
    function: { name: v.name ?? '', arguments: text(v.arguments, v.arguments_len) || '{}' } };
}

function resultOf(ptr) {
  const r = koffi.decode(ptr, c.Result);
  const count = (n) => (Number(n) < 0 ? null : Number(n));
  const message = r.message_json ? JSON.parse(r.message_json) : { role: 'assistant', content: null };
  return {
    status: r.status,
    message: r.message ?? '',
    result: {
      text: typeof message.content === 'string' ? message.content : '',
      reasoning: message.reasoning_content ?? '',
      finishReason: r.finish_reason ?? null,
      toolCalls: (message.tool_calls ?? []).map((t, index) => ({ index, id: t.id, type: 'function', function: t.function })),
      usage: { promptTokens: count(r.prompt_tokens), completionTokens: count(r.completion_tokens), totalTokens: count(r.total_tokens) },
      httpStatus: r.http_status,
      message,
    },
  };
}

const INCOMPLETE = 10;
const WAIT_MS = 200;

/** Client.runTools (see index.d.ts). */
export async function runTools(client, messages, { tools, functions = {}, sessions = [], maxSteps = 10, model, params,
  stream = true, toolTimeout = 60000, onToken, onReasoning, onToolCall, onStep, signal } = {}) {
  const f = load();
  if (!client?.handle) throw new YlokhError(c.INVALID_ARGUMENT, 'the client is closed');
  signal?.throwIfAborted?.();
  callbacksReachJs();
  const history = messages instanceof Conversation ? messages.messages : [...messages];
  const state = { error: null, steps: 0, done: null };
  const fail = (e) => {
    state.error ??= e;
    return 1;
  };
  const guard = (fn) => (...args) => {
    try {
      return fn(...args) ?? 0;
    } catch (e) {
      return fail(e);
    }
  };
  const registered = [];
  const reg = (fn, proto) => {
    const cb = koffi.register(fn, koffi.pointer(proto));
    registered.push(cb);
    return cb;
  };
  const steps = Math.max(1, maxSteps);
  const request = {
    struct_size: koffi.sizeof('ylokh_agent_request'), conversation: null, model: model ?? null,
    tools_json: tools?.length ? JSON.stringify(tools) : null,
    params_json: params && Object.keys(params).length ? JSON.stringify(params) : null, stream,
    sessions: sessions.length ? sessions.map((s) => s.live()) : null, n_sessions: sessions.length,
    max_steps: steps, tool_timeout_ms: ms(toolTimeout), user_data: null,
    on_token: onToken ? reg(guard((_u, t, n) => { onToken(text(t, n)); }), protos.text) : null,
    on_reasoning: onReasoning ? reg(guard((_u, t, n) => { onReasoning(text(t, n)); }), protos.text) : null,
    on_chunk: null,
    on_tool_call_delta: null,
    on_tool_call: onToolCall ? reg(guard((_u, call) => { onToolCall(toolCallOf(call)); }), protos.call) : null,
    on_tool: reg(guard((_u, ptr, reply) => {
      const call = toolCallOf(ptr);
      const fn = functions[call.function.name];
      let answer, isError = false;
      if (typeof fn !== 'function') {
        [answer, isError] = [`there is no tool named ${call.function.name}`, true];
      } else {
        try {
          const value = fn(JSON.parse(call.function.arguments || '{}'));
          if (value && typeof value.then === 'function') {
            return fail(new TypeError(`the tool function ${call.function.name} returned a Promise: runTools needs synchronous tool functions (their calls come from the library's thread, which waits for the return)`));
          }
          answer = typeof value === 'string' ? value : JSON.stringify(value ?? null);
        } catch (e) {
          [answer, isError] = [`${e?.name ?? 'Error'}: ${e?.message ?? e}`, true];
        }
      }
      return f.replySet(reply, answer, isError) === c.OK ? 0 : 1;
    }), protos.tool),
    on_step: reg(guard((_u, step, result) => {
      state.steps = step;
      if (onStep) onStep(step, resultOf(result).result);
    }), protos.step),
    on_done: reg((_u, result) => {
      try {
        state.done = resultOf(result);
      } catch (e) {
        fail(e);
      }
    }, protos.done),
  };
  const conversation = c.ffi.conversation_new();
  let run = null;
  const onAbort = () => { if (run) f.cancel(run); };
  try {
    history.forEach((m, i) => {
      const status = c.ffi.conversation_add_json(conversation, JSON.stringify(m));
      if (status !== c.OK) throw new YlokhError(status, `messages[${i}]: ${c.ffi.last_error() ?? ''}`);
    });
    request.conversation = conversation;
    const out = [null];
    check(f.run(client.handle, request, out));
    run = out[0];
    signal?.addEventListener('abort', onAbort, { once: true });
    for (;;) {
      const status = await new Promise((resolve, reject) => {
        f.wait.async(run, WAIT_MS, (err, s) => (err ? reject(err) : resolve(s)));
      });
      if (status !== c.PENDING) break;
    }
    const after = JSON.parse(f.conversationJson(conversation));
    history.splice(0, history.length, ...after);
    if (Array.isArray(messages) && messages !== history) messages.splice(0, messages.length, ...after);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (run) f.free(run);
    c.ffi.conversation_free(conversation);
    for (const cb of registered) koffi.unregister(cb);
  }
  if (state.error) throw state.error;
  const { status, message, result } = state.done;
  const answered = status === c.OK;
  if (!answered && !(status === INCOMPLETE && state.steps === steps)) {
    const error = new YlokhError(status, message, result.httpStatus);
    if (signal?.aborted) error.cause = signal.reason;
    throw error;
  }
  return { result, steps: state.steps + (answered ? 1 : 0), answered };
}

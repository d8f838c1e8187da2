// ylokh for Node.js: a thin layer over libylokh's C API (koffi). See index.d.ts and the
// "From Node.js" section of the libylokh README.
//
// Events come through the C API's pull interface (ylokh_request_next). What has already arrived
// is taken synchronously with a zero timeout; waiting happens in koffi async calls, which run on
// libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise). So that waiting never
// takes the whole pool (fs, dns and zlib use it too) and a hundred streams never wait in line, one
// poller shares at most half the pool between every stream that waits: each wait is short when
// other streams wait too, and whenever one returns, every other waiting stream is looked at with
// a zero timeout. The event loop itself never blocks.
import * as c from './lib.js';
import { McpSession, runTools } from './agent.js';

const { ffi, koffi } = c;

export const libraryPath = c.libraryPath;
export const version = c.version;
/** Whether the loaded library exports `symbol`. */
export const has = c.has;

export class YlokhError extends Error {
  constructor(status, message, httpStatus = 0) {
    const statusName = ffi.status_str(status);
    super(message);
    this.name = 'YlokhError';
    this.status = status;
    this.statusName = statusName;
    this.httpStatus = httpStatus;
  }

  toString() {
    return `${this.name}: ${this.statusName}${this.httpStatus ? ` (HTTP ${this.httpStatus})` : ''}: ${this.message}`;
  }
}

function lastError(status) {
  return new YlokhError(status, ffi.last_error() ?? '');
}

function check(status) {
  if (status !== c.OK) throw lastError(status);
}

const count = (n) => (Number(n) < 0 ? null : Number(n));

/** Copies what a pulled event says out of the library's memory (valid until the next call). */
function decode(out) {
  const kind = out.kind;
  if (kind === c.EVENT_DONE) {
    const r = koffi.decode(out.result, c.Result);
    return {
      kind,
      done: {
        status: r.status,
        httpStatus: r.http_status,
        message: r.message ?? '',
        finishReason: r.finish_reason ?? null,
        usage: {
          promptTokens: count(r.prompt_tokens),
          completionTokens: count(r.completion_tokens),
          totalTokens: count(r.total_tokens),
        },
        messageJson: r.message_json ?? null,
      },
    };
  }
  const len = Number(out.len);
  const text = len === 0 ? '' : Buffer.from(koffi.decode(out.text, 'uint8_t', len)).toString('utf8');
  return { kind, text };
}

/** One started request on the pull interface. */
class Pulled {
  constructor(handle) {
    this.handle = handle;
    this.out = {};
    this.inFlight = false; // an async ylokh_request_next runs on a pool thread
    this.closed = false;
    this.freed = false;
    this.done = null;
    this.waiter = null;
  }

  /** The next event if one is there (never waits); null otherwise. */
  now() {
    if (this.done) return this.done;
    const status = ffi.request_next(this.handle, 0, this.out);
    if (status === c.PENDING) return null;
    if (status !== c.OK) throw lastError(status);
    return this.keep(decode(this.out));
  }

  keep(event) {
    if (event.kind === c.EVENT_DONE) this.done = event;
    return event;
  }

  /** The next event: at once when there, else through the poller. */
  next() {
    if (this.closed) return Promise.reject(new YlokhError(c.CANCELLED, 'the stream was closed'));
    const event = this.now();
    return event ? Promise.resolve(event) : poller.wait(this);
  }

  cancel() {
    if (!this.freed) ffi.request_cancel(this.handle);
  }

  /** Cancels and frees; when a wait is still running on a pool thread, it frees after it. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.cancel();
    if (!this.inFlight) this.free();
  }

  free() {
    if (!this.freed) {
      this.freed = true;
      ffi.request_free(this.handle);
    }
  }
}

const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const LONG_MS = 200; // a wait when few streams wait (a cancel ends it at once)
const SHORT_MS = 5; // a wait when more streams wait than there are waiting threads

const poller = {
  waiting: [], // Pulled requests whose consumer waits for an event, oldest turn first
  inFlight: 0,
  max: Math.max(1, Math.floor(poolSize / 2)),

  wait(req) {
    return new Promise((resolve, reject) => {
      req.waiter = { resolve, reject };
      this.waiting.push(req);
      this.pump();
    });
  },

  settle(req, event, error) {
    const i = this.waiting.indexOf(req);
    if (i >= 0) this.waiting.splice(i, 1);
    const waiter = req.waiter;
    req.waiter = null;
    if (!waiter) return;
    if (error) waiter.reject(error);
    else waiter.resolve(event);
  },

  pump() {
    while (this.inFlight < this.max) {
      const i = this.waiting.findIndex((r) => !r.inFlight);
      if (i < 0) return;
      const [req] = this.waiting.splice(i, 1);
      this.waiting.push(req); // its next turn comes after the others'
      this.start(req);
    }
  },

  start(req) {
    req.inFlight = true;
    this.inFlight++;
    const ms = this.waiting.length > this.max ? SHORT_MS : LONG_MS;
    ffi.request_next.async(req.handle, ms, req.out, (err, status) => {
      req.inFlight = false;
      this.inFlight--;
      try {
        if (req.closed) {
          req.free();
          this.settle(req, null, new YlokhError(c.CANCELLED, 'the stream was closed'));
        } else if (err) {
          this.settle(req, null, err);
        } else if (status === c.OK) {
          this.settle(req, req.keep(decode(req.out)));
        } else if (status !== c.PENDING) {
          this.settle(req, null, lastError(status));
        }
      } finally {
        this.sweep();
        this.pump();
      }
    });
  },

  /** Every waiting stream that no thread waits on: what has arrived, without waiting. */
  sweep() {
    for (const req of [...this.waiting]) {
      if (req.inFlight) continue;
      try {
        const event = req.now();
        if (event) this.settle(req, event);
      } catch (e) {
        this.settle(req, null, e);
      }
    }
  },
};

/** A ylokh_conversation holding `messages` as given (free it with ylokh_conversation_free). */
function conversationOf(messages) {
  const conversation = ffi.conversation_new();
  if (!conversation) throw lastError(c.INTERNAL);
  try {
    messages.forEach((m, i) => {
      if (m === null || typeof m !== 'object' || Array.isArray(m)) {
        throw new YlokhError(c.INVALID_ARGUMENT,
          `messages[${i}] is ${m === null ? 'null' : Array.isArray(m) ? 'an array' : `a ${typeof m}`}, not an object with a "role" (a chat-format message)`);
      }
      const status = ffi.conversation_add_json(conversation, JSON.stringify(m));
      if (status !== c.OK) throw new YlokhError(status, `messages[${i}]: ${ffi.last_error() ?? ''}`);
    });
  } catch (e) {
    ffi.conversation_free(conversation);
    throw e;
  }
  return conversation;
}

/** Starts a request through ylokh_chat_send, the history as a conversation (each message as
 * given: tool calls and results, content parts and reasoning reach every wire dialect translated). */
function start(client, messages, { model, tools, params } = {}, stream) {
  if (!client.handle) throw new YlokhError(c.INVALID_ARGUMENT, 'the client is closed');
  const history = messages instanceof Conversation ? messages.messages : [...messages];
  const paramsJson = params && Object.keys(params).length ? JSON.stringify(params) : null;
  const conversation = conversationOf(history);
  const out = [null];
  try {
    check(ffi.chat_send(client.handle, {
      struct_size: c.sizeofChatRequest, model: model ?? null, messages: null, n_messages: 0, conversation,
      tools_json: tools != null ? JSON.stringify(tools) : null, params_json: paramsJson, stream, pull: true,
      user_data: null, on_token: null, on_reasoning: null, on_chunk: null, on_tool_call_delta: null,
      on_tool_call: null, on_done: null,
    }, out));
  } finally {
    ffi.conversation_free(conversation); // the request copied it
  }
  return new Pulled(out[0]);
}

function toolCall(json) {
  const call = JSON.parse(json);
  return { index: call.index ?? 0, id: call.id ?? '', type: call.type ?? 'function',
    function: { name: call.function?.name ?? '', arguments: call.function?.arguments ?? '{}' } };
}

/** The events of one request, as an async generator; closing it cancels the request. */
async function* events(client, messages, options, stream) {
  const signal = options?.signal;
  signal?.throwIfAborted?.();
  const req = start(client, messages, options, stream);
  const onAbort = () => req.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  const text = [], reasoning = [], toolCalls = [];
  try {
    for (;;) {
      const event = await req.next();
      if (event.kind === c.EVENT_TOKEN) {
        text.push(event.text);
        yield { type: 'token', text: event.text };
      } else if (event.kind === c.EVENT_REASONING) {
        reasoning.push(event.text);
        yield { type: 'reasoning', text: event.text };
      } else if (event.kind === c.EVENT_TOOL_CALL) {
        const call = toolCall(event.text);
        toolCalls.push(call);
        yield { type: 'tool_call', toolCall: call };
      } else if (event.kind === c.EVENT_DONE) {
        const d = event.done;
        if (d.status !== c.OK) {
          const error = new YlokhError(d.status, d.message, d.httpStatus);
          if (signal?.aborted) error.cause = signal.reason;
          throw error;
        }
        const all = text.join('');
        yield {
          type: 'done',
          result: {
            text: all,
            reasoning: reasoning.join(''),
            finishReason: d.finishReason,
            toolCalls,
            usage: d.usage,
            httpStatus: d.httpStatus,
            message: d.messageJson ? JSON.parse(d.messageJson) : { role: 'assistant', content: all },
          },
        };
        return;
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    req.close();
  }
}

/** A message history that grows with each exchange. */
export class Conversation {
  constructor(messages = [], { system } = {}) {
    this.messages = [];
    if (system != null) this.add('system', system);
    for (const m of messages) this.messages.push({ ...m });
  }

  add(role, content) {
    this.messages.push({ role, content });
    return this;
  }

  /** The assistant message of an answer (with its tool calls, if any). */
  addResult(result) {
    this.messages.push({ ...result.message });
    return this;
  }

  addToolResult(toolCallId, content) {
    this.messages.push({ role: 'tool', tool_call_id: toolCallId, content });
    return this;
  }

  get length() {
    return this.messages.length;
  }

  [Symbol.iterator]() {
    return this.messages[Symbol.iterator]();
  }
}

// Once a log handler has been set, ylokh_client_free (which waits for each request's end, and a
// request's end writes a log record whose handler must run on this thread) runs on a pool thread.
let logsToJs = false;
/** Called by runTools: from then on a client free waits for runs whose callbacks need this thread. */
export function callbacksReachJs() {
  logsToJs = true;
}
function freeClient(handle) {
  if (logsToJs) ffi.client_free.async(handle, () => {});
  else ffi.client_free(handle);
}

const clients = new FinalizationRegistry(freeClient);

export class Client {
  /**
   * @param {object} [options]
   * baseURL (default: YLOKH_BASE_URL, else the Ylokh preset), apiKey (default: YLOKH_API_KEY),
   * model, api ("chat", "responses" or "messages"), timeout (ms, whole request), proxy, headers,
   * params (default body keys), maxRetries, resume (a broken stream goes on where it broke),
   * firstTokenTimeout (ms from sending to the first token).
   */
  constructor({ baseURL, apiKey, model, api = 'chat', timeout, proxy, headers, params, maxRetries, resume,
    firstTokenTimeout } = {}) {
    this.baseURL = baseURL ?? process.env.YLOKH_BASE_URL ?? null;
    this.model = model ?? null;
    this.api = api;
    if (!(api in c.APIS)) {
      throw new YlokhError(c.INVALID_ARGUMENT, `api must be one of ${Object.keys(c.APIS).join(', ')}, not ${JSON.stringify(api)}`);
    }
    const opts = this.baseURL ? ffi.options_new_compatible(this.baseURL) : ffi.options_new();
    if (!opts) throw lastError(c.INVALID_ARGUMENT);
    try {
      const key = apiKey ?? process.env.YLOKH_API_KEY;
      if (key) check(ffi.options_set_api_key(opts, key));
      if (model) check(ffi.options_set_default_model(opts, model));
      check(ffi.options_set_api(opts, c.APIS[api]));
      if (proxy) check(ffi.options_set_proxy(opts, proxy));
      if (timeout != null) check(ffi.options_set_timeout_ms(opts, Math.max(0, Math.round(timeout))));
      if (maxRetries != null) check(ffi.options_set_max_retries(opts, maxRetries));
      if (resume) check(ffi.options_set_resume(opts, true));
      if (firstTokenTimeout != null) {
        check(ffi.options_set_first_token_timeout_ms(opts, Math.max(0, Math.round(firstTokenTimeout))));
      }
      for (const [name, value] of Object.entries(headers ?? {})) check(ffi.options_set_header(opts, name, value ?? null));
      if (params) check(ffi.options_set_default_params(opts, JSON.stringify(params)));
      const out = [null];
      check(ffi.client_new(opts, out));
      this.handle = out[0];
    } finally {
      ffi.options_free(opts);
    }
    clients.register(this, this.handle, this);
  }

  /** Streams an answer: `for await (const event of client.stream(messages, { signal, tools, params }))`. */
  stream(messages, options = {}) {
    return events(this, messages, options, options.stream ?? true);
  }

  /** The whole answer of a non-streamed request (the "done" event's result). */
  async complete(messages, options = {}) {
    let result = null;
    for await (const event of events(this, messages, options, options.stream ?? false)) {
      if (event.type === 'done') result = event.result;
    }
    return result;
  }

  /**
   * Embeddings of `inputs` (a string or an array of strings): one Float32Array per input, in
   * order (libylokh 0.3). Options: model, params (body keys merged last, e.g. { dimensions: 256 }).
   * Synchronous, like fs.readFileSync: it returns when the server has answered (the library's
   * error text is per thread, so the call stays on this one). Throws YlokhError.
   */
  embed(inputs, { model, params } = {}) {
    if (!this.handle) throw new YlokhError(c.INVALID_ARGUMENT, 'the client is closed');
    if (!c.has03) {
      throw new YlokhError(c.INVALID_ARGUMENT, `embed() needs libylokh 0.3 (the loaded library, ${c.libraryPath}, is ${c.version})`);
    }
    const texts = typeof inputs === 'string' ? [inputs] : [...inputs];
    const out = [null];
    check(ffi.embed(this.handle, model ?? null, texts, texts.length, params ? JSON.stringify(params) : null, out));
    try {
      const e = koffi.decode(out[0], 'ylokh_embeddings');
      const [count, dimensions] = [Number(e.count), Number(e.dimensions)];
      const all = koffi.decode(e.data, koffi.array('float', count * dimensions, 'Typed'));
      return Array.from({ length: count }, (_, i) => all.slice(i * dimensions, (i + 1) * dimensions));
    } finally {
      ffi.embeddings_free(out[0]);
    }
  }

  /**
   * Runs the whole tool loop through the library's agent runner (libylokh 0.3); see index.d.ts.
   * Resolves with { result, steps, answered }.
   */
  runTools(messages, options = {}) {
    return runTools(this, messages, options);
  }

  /** Cancels the client's running requests and frees it. */
  close() {
    if (this.handle) {
      clients.unregister(this);
      freeClient(this.handle);
      this.handle = null;
    }
  }
}

// The log handler's registered callback (koffi), and the chain of ylokh_set_log_callback calls.
let logCallback = null;
let logChain = Promise.resolve();

/**
 * Sends the library's log records (level 1 error .. 5 trace; default 4, debug) to
 * `handler(level, message)`; null turns it off. Records from library threads reach the handler on
 * the main thread (koffi queues them to the event loop; the library thread waits meanwhile), so it
 * runs between other JavaScript, never beside it. Resolves once the handler is in place (and the
 * previous one will not run again). Turn it off (`await setLogHandler(null)`) before the process
 * exits if requests may still be running.
 */
export function setLogHandler(handler, level = 4) {
  if (handler != null && typeof handler !== 'function') {
    return Promise.reject(new YlokhError(c.INVALID_ARGUMENT, 'the log handler must be a function or null'));
  }
  if (handler) logsToJs = true;
  const next = handler
    ? koffi.register((_userData, lvl, message) => {
      try {
        handler(lvl, message ?? '');
      } catch {
        // an exception must not cross into the library
      }
    }, koffi.pointer(c.LogFn))
    : null;
  const install = () => new Promise((resolve, reject) => {
    // On a pool thread: ylokh_set_log_callback waits for calls of the previous callback still
    // running, and those wait for this thread.
    ffi.set_log_callback.async(next ? level : 0, next, null, (err, status) => {
      if (err || status !== c.OK) {
        if (next) koffi.unregister(next);
        reject(err ?? new YlokhError(status, 'ylokh_set_log_callback refused the handler'));
        return;
      }
      const previous = logCallback;
      logCallback = next;
      if (previous) koffi.unregister(previous);
      resolve();
    });
  });
  logChain = logChain.then(install, install);
  return logChain;
}

export { McpSession };
export default Client;

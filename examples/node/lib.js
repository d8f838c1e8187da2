// The C API through koffi: finding and loading libylokh, its structs and functions. index.js
// builds the Client on what this module exports.
import { findLibrary } from './find.js';

let koffi;
try {
  koffi = (await import('koffi')).default;
} catch (e) {
  throw new Error('ylokh: its dependency koffi is missing. Install the package with npm (`npm install ' +
    '--install-links <checkout>/examples/node`: without --install-links npm links the directory and ' +
    `installs none of its dependencies). (${e.message})`);
}

export const OK = 0, PENDING = 1, INVALID_ARGUMENT = 2, CANCELLED = 11, INTERNAL = 13;
export const EVENT_TOKEN = 1, EVENT_REASONING = 2, EVENT_CHUNK = 3, EVENT_DONE = 4;
export const EVENT_TOOL_CALL = 5; // libylokh 0.2
export const APIS = { chat: 1, responses: 2, messages: 3 }; // ylokh_options_set_api (0.2)

export const libraryPath = findLibrary();
let lib;
try {
  lib = koffi.load(libraryPath);
} catch (e) {
  throw new Error(`ylokh: could not load libylokh (${libraryPath}): ${e.message}. Install the release tarball ` +
    '(npm install ./ylokh-<version>.tgz, which holds the library for linux-x64) or the package from a ' +
    'libylokh checkout (npm install --install-links <checkout>/examples/node builds it), install libylokh ' +
    '(libylokh.so.0), or set YLOKH_LIB to the path of libylokh.so');
}

koffi.opaque('ylokh_options');
koffi.opaque('ylokh_client');
koffi.opaque('ylokh_request');
koffi.opaque('ylokh_conversation');
export const Message = koffi.struct('ylokh_message', { role: 'const char *', content: 'const char *' });
const result01 = {
  status: 'uint32_t',
  http_status: 'uint16_t',
  message: 'const char *',
  finish_reason: 'const char *',
  prompt_tokens: 'int64_t',
  completion_tokens: 'int64_t',
  total_tokens: 'int64_t',
};
export const Event = koffi.struct('ylokh_event', { kind: 'uint32_t', text: 'void *', len: 'size_t', result: 'void *' });

const declarations = {
  options_new: 'ylokh_options *ylokh_options_new()',
  options_new_compatible: 'ylokh_options *ylokh_options_new_compatible(const char *url)',
  options_free: 'void ylokh_options_free(ylokh_options *opts)',
  options_set_api_key: 'uint32_t ylokh_options_set_api_key(ylokh_options *opts, const char *key)',
  options_set_header: 'uint32_t ylokh_options_set_header(ylokh_options *opts, const char *name, const char *value)',
  options_set_proxy: 'uint32_t ylokh_options_set_proxy(ylokh_options *opts, const char *url)',
  options_set_timeout_ms: 'uint32_t ylokh_options_set_timeout_ms(ylokh_options *opts, uint64_t ms)',
  options_set_max_retries: 'uint32_t ylokh_options_set_max_retries(ylokh_options *opts, uint32_t n)',
  options_set_default_model: 'uint32_t ylokh_options_set_default_model(ylokh_options *opts, const char *model)',
  options_set_default_params: 'uint32_t ylokh_options_set_default_params(ylokh_options *opts, const char *json)',
  client_new: 'uint32_t ylokh_client_new(const ylokh_options *opts, _Out_ ylokh_client **out)',
  client_free: 'void ylokh_client_free(ylokh_client *client)',
  request_next: 'uint32_t ylokh_request_next(ylokh_request *req, uint64_t timeout_ms, _Out_ ylokh_event *out)',
  request_cancel: 'uint32_t ylokh_request_cancel(ylokh_request *req)',
  request_free: 'void ylokh_request_free(ylokh_request *req)',
  status_str: 'const char *ylokh_status_str(uint32_t status)',
  last_error: 'const char *ylokh_last_error()',
  version: 'const char *ylokh_version()',
};

/** Whether the loaded library exports `symbol`. */
export function has(symbol) {
  try {
    lib.func(`void ${symbol}()`);
    return true;
  } catch {
    return false;
  }
}

// libylokh 0.2, which this package needs: every request starts through ylokh_chat_send with a
// conversation; resume, the first-token timeout and the log callback are options of 0.2.
const needed = ['ylokh_chat_send', 'ylokh_conversation_add_json', 'ylokh_options_set_api', 'ylokh_options_set_resume',
  'ylokh_options_set_first_token_timeout_ms', 'ylokh_set_log_callback'];
const missing = needed.filter((symbol) => !has(symbol));
if (missing.length) {
  throw new Error(`ylokh: libylokh at ${libraryPath} is too old for this package (it lacks ${missing.join(', ')}): ` +
    'this package needs libylokh 0.2 or newer. Install the package from the same libylokh checkout (npm install ' +
    '<checkout>/examples/node builds it), or set YLOKH_LIB to the path of a newer libylokh.so');
}

export const Result = koffi.struct('ylokh_result', { ...result01, message_json: 'const char *', n_tool_calls: 'uint32_t' });
koffi.struct('ylokh_chat_request', {
  struct_size: 'size_t',
  model: 'const char *',
  messages: 'const ylokh_message *',
  n_messages: 'size_t',
  conversation: 'const ylokh_conversation *',
  tools_json: 'const char *',
  params_json: 'const char *',
  stream: 'bool',
  pull: 'bool',
  user_data: 'void *',
  on_token: 'void *',
  on_reasoning: 'void *',
  on_chunk: 'void *',
  on_tool_call_delta: 'void *',
  on_tool_call: 'void *',
  on_done: 'void *',
});
/** ylokh_log_fn: `message` is NUL-terminated UTF-8, borrowed for the call. */
export const LogFn = koffi.proto('void ylokh_log_fn(void *user_data, uint32_t level, const char *message, size_t len)');

Object.assign(declarations, {
  options_set_api: 'uint32_t ylokh_options_set_api(ylokh_options *opts, uint32_t api)',
  options_set_resume: 'uint32_t ylokh_options_set_resume(ylokh_options *opts, bool enabled)',
  options_set_first_token_timeout_ms: 'uint32_t ylokh_options_set_first_token_timeout_ms(ylokh_options *opts, uint64_t ms)',
  chat_send: 'uint32_t ylokh_chat_send(ylokh_client *client, const ylokh_chat_request *req, _Out_ ylokh_request **out)',
  conversation_new: 'ylokh_conversation *ylokh_conversation_new()',
  conversation_free: 'void ylokh_conversation_free(ylokh_conversation *c)',
  conversation_add_json: 'uint32_t ylokh_conversation_add_json(ylokh_conversation *c, const char *message_json)',
  set_log_callback: 'uint32_t ylokh_set_log_callback(uint32_t max_level, ylokh_log_fn *fn, void *user_data)',
});

export const ffi = Object.fromEntries(Object.entries(declarations).map(([name, decl]) => [name, lib.func(decl)]));

// libylokh 0.3: embeddings.
export const has03 = has('ylokh_embed');
if (has03) {
  koffi.struct('ylokh_embeddings', {
    count: 'size_t',
    dimensions: 'size_t',
    data: 'void *',
    prompt_tokens: 'int64_t',
    model: 'const char *',
    http_status: 'uint16_t',
  });
  ffi.embed = lib.func('uint32_t ylokh_embed(ylokh_client *client, const char *model, const char **inputs, ' +
    'size_t n, const char *params_json, _Out_ ylokh_embeddings **out)');
  ffi.embeddings_free = lib.func('void ylokh_embeddings_free(ylokh_embeddings *e)');
}

export { koffi };
export const version = ffi.version();
export const sizeofChatRequest = koffi.sizeof('ylokh_chat_request');

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

export const OK = 0, PENDING = 1, INVALID_ARGUMENT = 2, CANCELLED = 11;
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
  chat_start: 'uint32_t ylokh_chat_start(ylokh_client *client, const char *model, const ylokh_message *messages, ' +
    'size_t n, const char *params_json, bool stream, void *callbacks, _Out_ ylokh_request **out)',
  request_next: 'uint32_t ylokh_request_next(ylokh_request *req, uint64_t timeout_ms, _Out_ ylokh_event *out)',
  request_cancel: 'uint32_t ylokh_request_cancel(ylokh_request *req)',
  request_free: 'void ylokh_request_free(ylokh_request *req)',
  status_str: 'const char *ylokh_status_str(uint32_t status)',
  last_error: 'const char *ylokh_last_error()',
  version: 'const char *ylokh_version()',
};

/** Whether the loaded library exports `symbol` (the 0.2 additions are optional). */
export function has(symbol) {
  try {
    lib.func(`void ${symbol}()`);
    return true;
  } catch {
    return false;
  }
}

export const ffi = Object.fromEntries(Object.entries(declarations).map(([name, decl]) => [name, lib.func(decl)]));

// libylokh 0.2: present only in libraries that have them.
export const has02 = has('ylokh_chat_send');
export const Result = koffi.struct('ylokh_result', has02
  ? { ...result01, message_json: 'const char *', n_tool_calls: 'uint32_t' }
  : result01);
if (has('ylokh_options_set_api')) {
  ffi.options_set_api = lib.func('uint32_t ylokh_options_set_api(ylokh_options *opts, uint32_t api)');
}
if (has02) {
  koffi.struct('ylokh_chat_request', {
    struct_size: 'size_t',
    model: 'const char *',
    messages: 'const ylokh_message *',
    n_messages: 'size_t',
    conversation: 'void *',
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
  ffi.chat_send = lib.func('uint32_t ylokh_chat_send(ylokh_client *client, const ylokh_chat_request *req, _Out_ ylokh_request **out)');
}

export { koffi };
export const version = ffi.version();
export const sizeofChatRequest = has02 ? koffi.sizeof('ylokh_chat_request') : 0;

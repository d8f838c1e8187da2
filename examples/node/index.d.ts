// Types of ylokh for Node.js (index.js).

/** A chat-format message: role and content, or anything the server's chat format allows
 * (tool calls, tool results, content parts). */
export interface Message {
  role: string;
  content?: string | null | unknown[];
  [key: string]: unknown;
}

/** The wire dialect; messages, tools and results stay in the chat format whichever it is. */
export type Api = 'chat' | 'responses' | 'messages';

export interface ClientOptions {
  /** e.g. "http://127.0.0.1:8080/v1"; unset: YLOKH_BASE_URL, else the Ylokh preset. */
  baseURL?: string;
  /** Sent as `Authorization: Bearer`; unset: YLOKH_API_KEY. Never in a message or log record. */
  apiKey?: string;
  /** The model when a request names none. */
  model?: string;
  api?: Api;
  /** Deadline for the whole request in milliseconds (0: none). Default 120000. */
  timeout?: number;
  /** http, https, socks5 or socks5h URL. */
  proxy?: string;
  /** Headers sent with every request (null removes one). */
  headers?: Record<string, string | null>;
  /** Body keys every request starts with. */
  params?: Record<string, unknown>;
  /** Retries on connect errors, 408, 409, 429 and 5xx. Default 2. */
  maxRetries?: number;
  /** Resume a stream that breaks mid-answer where it broke (llama.cpp's conversation streams,
   * OpenAI's background responses); a cancel then stops the generation on the server. */
  resume?: boolean;
  /** Longest wait in milliseconds from sending a request to its first token (the read timeout
   * waits meanwhile); unset or 0: none. Ends the request with YLOKH_TIMEOUT. */
  firstTokenTimeout?: number;
}

/** A tool definition in the chat format. */
export interface Tool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
  [key: string]: unknown;
}

export interface RequestOptions {
  /** Aborting cancels the request and closes its connection; the stream then throws a
   * YlokhError with statusName "YLOKH_CANCELLED" (its `cause`: the signal's reason). */
  signal?: AbortSignal;
  /** Tool definitions in the chat format (translated for Responses and Messages). */
  tools?: Tool[];
  /** Body keys, merged last: they win. */
  params?: Record<string, unknown>;
  model?: string;
  /** Whether the server streams the answer: default true for stream(), false for complete(). */
  stream?: boolean;
}

export interface ToolCall {
  index: number;
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface Usage {
  /** null when the server did not say. */
  promptTokens: number | null;
  completionTokens: number | null;
  totalTokens: number | null;
}

export interface Result {
  text: string;
  reasoning: string;
  /** "stop", "length", "tool_calls", ... or null. */
  finishReason: string | null;
  toolCalls: ToolCall[];
  usage: Usage;
  httpStatus: number;
  /** The assistant message, ready to add to a conversation. */
  message: Message;
}

export type Event =
  | { type: 'token'; text: string }
  | { type: 'reasoning'; text: string }
  | { type: 'tool_call'; toolCall: ToolCall }
  | { type: 'done'; result: Result };

export class YlokhError extends Error {
  /** A YLOKH_* status number (include/ylokh.h). */
  readonly status: number;
  /** e.g. "YLOKH_HTTP_STATUS". */
  readonly statusName: string;
  /** 0 when no HTTP response arrived. */
  readonly httpStatus: number;
}

export class Conversation implements Iterable<Message> {
  constructor(messages?: Iterable<Message>, options?: { system?: string });
  messages: Message[];
  add(role: string, content: Message['content']): this;
  /** The assistant message of an answer (with its tool calls, if any). */
  addResult(result: Result): this;
  addToolResult(toolCallId: string, content: string): this;
  readonly length: number;
  [Symbol.iterator](): Iterator<Message>;
}

export class Client {
  constructor(options?: ClientOptions);
  readonly baseURL: string | null;
  readonly model: string | null;
  readonly api: Api;
  /** The events of one request; leaving the loop cancels it. */
  stream(messages: Iterable<Message> | Conversation, options?: RequestOptions): AsyncGenerator<Event, void, undefined>;
  /** The whole answer (not streamed unless options.stream). */
  complete(messages: Iterable<Message> | Conversation, options?: RequestOptions): Promise<Result>;
  /**
   * Embeddings of `inputs`, one Float32Array per input, in order (libylokh 0.3). Synchronous:
   * returns when the server has answered. Throws YlokhError.
   */
  embed(inputs: string | Iterable<string>, options?: { model?: string; params?: Record<string, unknown> }): Float32Array[];
  /**
   * Runs the whole tool loop through the library's agent runner (libylokh 0.3): sends
   * `messages` with `tools` (their calls go to `functions[name](parsedArguments)`, which must be
   * synchronous; a string return is the result, anything else is sent as JSON) and every tool of
   * `sessions`; appends each assistant turn with calls and each result to `messages` (a
   * Conversation or an array, updated in place; not the final answer: `result.message`), until
   * an answer comes without calls or `maxSteps` model turns were made. A function that throws
   * gives the model an error result ("Error: Name: message"), not a failed run; a callback that
   * throws (or a function returning a Promise) stops the run and the promise rejects with it.
   * Callbacks run on the main thread (koffi queues them from the library's threads). Rejects
   * with YlokhError when a model turn fails; resolves `answered: false` when maxSteps ran out.
   */
  runTools(messages: Message[] | Conversation, options?: RunToolsOptions): Promise<AgentResult>;
  /** Cancels the client's running requests and frees it. */
  close(): void;
}

export interface RunToolsOptions {
  tools?: Tool[];
  functions?: Record<string, (args: any) => unknown>;
  sessions?: McpSession[];
  /** Model turns at most (default 10). */
  maxSteps?: number;
  model?: string;
  params?: Record<string, unknown>;
  stream?: boolean;
  /** The time limit of each MCP tool call in ms (default 60000). */
  toolTimeout?: number;
  onToken?: (text: string) => void;
  onReasoning?: (text: string) => void;
  onToolCall?: (call: ToolCall) => void;
  /** After each turn whose calls ran (step from 1). */
  onStep?: (step: number, result: Result) => void;
  /** Aborting cancels the run (it rejects with YLOKH_CANCELLED). */
  signal?: AbortSignal;
}

export interface AgentResult {
  /** The last turn's result (its `message` is the final answer); usage summed over the run. */
  result: Result;
  /** Model turns made. */
  steps: number;
  /** false: maxSteps ran out while the model still called tools. */
  answered: boolean;
}

export interface McpToolResult {
  text: string;
  /** The server marked the result an error (the tool ran and failed). */
  isError: boolean;
  /** Every content block as a chat content part (images as image_url data URLs, resources). */
  content: unknown[];
  /** The server's structuredContent, or null. */
  structured: unknown;
}

/**
 * An MCP server's session (libylokh 0.3): its tools, over stdio (`argv`, `env`) or Streamable
 * HTTP (`url`, `headers`; their values never reach a message or log record). Synchronous, like
 * embed(). close() kills a stdio server; close sessions before their client.
 */
export class McpSession {
  static connect(client: Client, server: {
    argv?: string[]; env?: Record<string, string>; url?: string; headers?: Record<string, string>;
    name?: string; /** ms, default 30000 */ connectTimeout?: number;
  }): McpSession;
  /** The tools as chat-format definitions (names "PREFIX_NAME" with a prefix). */
  tools(prefix?: string | null, options?: { timeout?: number }): Tool[];
  /** Whether the tool list changed since it was accepted (calls fail until acceptTools()). */
  readonly toolsChanged: boolean;
  acceptTools(options?: { timeout?: number }): void;
  /** A result the server marks an error is returned (isError); no answer throws YlokhError. */
  call(tool: string, args?: Record<string, unknown>, options?: { timeout?: number }): McpToolResult;
  close(): void;
}

export default Client;

/** The path of the loaded libylokh. */
export const libraryPath: string;
/** The loaded library's version, e.g. "0.1.0". */
export const version: string;
/** Whether the loaded library exports `symbol`. */
export function has(symbol: string): boolean;

/** Sends the library's log records (level 1 error .. 5 trace; default 4, debug) to `handler`,
 * on the main thread (records from library threads are queued to the event loop); null turns it
 * off. Resolves once the handler is in place and the previous one runs no more. */
export function setLogHandler(handler: ((level: number, message: string) => void) | null, level?: number): Promise<void>;

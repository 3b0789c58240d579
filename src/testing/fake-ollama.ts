/**
 * A scripted, Ollama-compatible HTTP server for tests and offline development.
 *
 * It speaks the real Ollama wire protocol (checked against ollama-js 0.6.x), so the
 * unmodified `ollama` npm client can talk to it:
 *
 *  - POST /api/chat  streams NDJSON (`application/x-ndjson`): one
 *    `{model, created_at, message:{role, content, thinking?, tool_calls?}, done:false}` line per
 *    chunk, then a final `done:true` line with `done_reason` and the token/duration stats
 *    (durations are nanoseconds, like Ollama). A final assistant message is continued, as Ollama
 *    does (prefill): a scripted answer that starts with its text streams only the rest.
 *    Thinking chunks come first, then content chunks,
 *    then all tool calls in a single chunk, as Ollama does. `stream:false` returns one JSON object.
 *    Like the real server, a body without `stream` streams (the JS client always sends it).
 *  - Errors before streaming are HTTP errors with `{"error": "..."}` (the client throws a
 *    `ResponseError` with `status_code`); errors mid-stream are an `{"error": "..."}` NDJSON line
 *    (the client's iterator throws a plain `Error` with that message).
 *  - POST /api/embed `{model, input}` → `{model, embeddings, …}`: deterministic 768-dim vectors
 *    (`fakeEmbedding`), a hashed bag of words, normalised, so texts sharing words are closer.
 *    A model whose /api/show capabilities lack "embedding" answers 400, like Ollama.
 *  - GET /api/tags, GET /api/version, POST /api/show, GET / ("Ollama is running").
 *
 * Timing note: Bun (like Ollama) only sends the response headers together with the first body
 * chunk, so `firstChunkDelayMs`, `hang` and `hangAfter: ''` all keep `await client.chat(...)`
 * pending. During that phase `client.abort()` cannot cancel the request (the client only registers
 * a stream for abort() once headers have arrived); only a signal passed through the client's
 * `fetch` option can.
 */
import type { Server } from 'bun'

export interface ToolCallSpec {
  name: string
  arguments: Record<string, unknown>
}

/** A normal answer: optional thinking, content and tool calls. */
export interface ContentReply {
  content?: string
  thinking?: string
  toolCalls?: ToolCallSpec[]
  /** Characters per streamed chunk (thinking and content), default 4. */
  chunkSize?: number
  /** Delay between chunks, default 0. */
  chunkDelayMs?: number
  /** Delay before the first chunk (and therefore before the response headers), default 0. */
  firstChunkDelayMs?: number
  /** The final line's `done_reason`: default `stop`; `length` as when `num_predict` cut the answer. */
  doneReason?: 'stop' | 'length'
}
/** Answer with this HTTP status and `{"error": message}`. */
export interface HttpErrorReply {
  httpError: number
  message?: string
}
/** Stream `afterContent` (maybe empty), then an `{"error": streamError}` line, then end. */
export interface StreamErrorReply {
  streamError: string
  afterContent?: string
}
/** Accept the request and never send headers, until the client aborts or the server closes. */
export interface HangReply {
  hang: true
}
/**
 * Stream this content, then never finish (until the client aborts or the server closes).
 * With '' nothing is written, so no headers are sent either: it then behaves like `hang`.
 */
export interface HangAfterReply {
  hangAfter: string
}
export type Reply = ContentReply | HttpErrorReply | StreamErrorReply | HangReply | HangAfterReply

export interface ChatRequestRecord {
  model: string
  messages: any[]
  tools?: any[]
  think?: unknown
  stream?: boolean
  options?: unknown
  receivedAt: number
}
export type ChatHandler = (req: ChatRequestRecord, info: { callIndex: number }) => Reply | Promise<Reply>

export interface FakeOllama {
  /** e.g. http://127.0.0.1:12345 */
  url: string
  port: number
  /** Every well-formed /api/chat request body received, in order. */
  requests: ChatRequestRecord[]
  /** FIFO replies consumed by the next /api/chat calls (before the handler). */
  enqueue(...replies: Reply[]): void
  /** Used when the queue is empty; without one the answer is `{ content: 'ok' }`. */
  setHandler(handler: ChatHandler | undefined): void
  /** Reported by /api/tags (mutable). Untagged names are reported with ":latest", like Ollama. */
  models: string[]
  /** Texts embedded so far through /api/embed (all calls together). */
  embedded: number
  /** Input counts of each /api/embed call, in order. */
  embedCalls: number[]
  /** /api/chat requests currently being answered (including hanging ones). */
  inFlight(): number
  /** Stops the server, releasing hanging responses. Idempotent. */
  close(): Promise<void>
}

export interface FakeOllamaOptions {
  port?: number
  handler?: ChatHandler
  models?: string[]
  /** Override /api/show capabilities per model (default: completion, tools, thinking). */
  capabilities?: Record<string, string[]>
  /**
   * Embedding models /api/embed and /api/show know without being listed in /api/tags (default
   * `nomic-embed-text`). Push one into `models` to have it listed as well.
   */
  embedModels?: string[]
  /** Milliseconds each /api/embed call takes (default 0). */
  embedDelayMs?: number
  /** An HTTP status to fail the n-th /api/embed call (0-based) with, or undefined to answer it. */
  embedFailure?: (call: number) => number | undefined
}

export const FAKE_EMBEDDING_DIMENSIONS = 768

/** FNV-1a: a small, stable hash for the fake embedder's buckets. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/**
 * The scripted embedder: lower-cased words hashed into 768 buckets (with a hashed sign), the
 * vector normalised to length 1. Texts that share words have a higher cosine similarity; the
 * same text always gets the same vector. A text without words gets a fixed unit vector.
 */
export function fakeEmbedding(text: string, dimensions = FAKE_EMBEDDING_DIMENSIONS): number[] {
  const vector = new Array<number>(dimensions).fill(0)
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
  for (const word of words) {
    const h = fnv1a(word)
    vector[h % dimensions] += h >>> 31 === 1 ? -1 : 1
  }
  const norm = Math.hypot(...vector)
  if (norm === 0) {
    vector[0] = 1
    return vector
  }
  return vector.map((v) => v / norm)
}

export const FAKE_OLLAMA_VERSION = '0.12.10'
const DEFAULT_REPLY: ContentReply = { content: 'ok' }
const DEFAULT_CHUNK_SIZE = 4

// ---------------------------------------------------------------------------------------------
// Wire types (what Ollama actually sends; `created_at` is a string on the wire, not a Date).

interface WireToolCall {
  function: { index?: number; name: string; arguments: Record<string, unknown> }
}
interface WireMessage {
  role: 'assistant'
  content: string
  thinking?: string
  tool_calls?: WireToolCall[]
}
interface WireChatLine {
  model: string
  created_at: string
  message: WireMessage
  done: boolean
  done_reason?: string
  total_duration?: number
  load_duration?: number
  prompt_eval_count?: number
  prompt_eval_duration?: number
  eval_count?: number
  eval_duration?: number
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const encoder = new TextEncoder()
const ndjsonLine = (value: unknown): Uint8Array => encoder.encode(`${JSON.stringify(value)}\n`)

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
  })
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Splits on code points so a chunk never cuts a surrogate pair (emoji) in half. */
function chunkText(text: string, size: number): string[] {
  const chars = Array.from(text)
  const step = Math.max(1, Math.floor(size))
  const out: string[] = []
  for (let i = 0; i < chars.length; i += step) out.push(chars.slice(i, i + step).join(''))
  return out
}

/** Resolves true after `ms`, or false as soon as `signal` aborts; never leaves a timer behind. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  if (ms <= 0) return Promise.resolve(true)
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}

/** Ollama reports untagged models as `name:latest`. */
function withTag(name: string): string {
  return name.includes(':') ? name : `${name}:latest`
}

/** Rough token estimate (Ollama reports real token counts; ~4 chars/token is close enough). */
function estimateTokens(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '')
  return Math.max(1, Math.ceil(text.length / 4))
}

function sha256(text: string): string {
  return new Bun.CryptoHasher('sha256').update(text).digest('hex')
}

function modelDetails(name: string) {
  const base = name.split(':')[0]!.split('/').pop()!
  const family = base.replace(/[\d.]+$/, '') || base
  return {
    parent_model: '',
    format: 'gguf',
    family,
    families: [family],
    parameter_size: '3.2B',
    quantization_level: 'Q4_K_M',
  }
}

// ---------------------------------------------------------------------------------------------
// Reply scripting

type Ending = { kind: 'done' } | { kind: 'error'; message: string } | { kind: 'hang' }

/** Everything needed to answer one chat call, whatever kind of streamable reply it came from. */
interface Script {
  thinking: string
  content: string
  toolCalls: ToolCallSpec[]
  chunkSize: number
  chunkDelayMs: number
  firstChunkDelayMs: number
  doneReason: string
  ending: Ending
}

function toScript(reply: ContentReply | StreamErrorReply | HangAfterReply, think: unknown): Script {
  const base = {
    thinking: '',
    toolCalls: [],
    chunkSize: DEFAULT_CHUNK_SIZE,
    chunkDelayMs: 0,
    firstChunkDelayMs: 0,
    doneReason: 'stop',
  }
  if ('streamError' in reply) {
    return { ...base, content: reply.afterContent ?? '', ending: { kind: 'error', message: reply.streamError } }
  }
  if ('hangAfter' in reply) return { ...base, content: reply.hangAfter, ending: { kind: 'hang' } }
  return {
    // Ollama only omits thinking when the caller explicitly disables it.
    thinking: think === false ? '' : (reply.thinking ?? ''),
    content: reply.content ?? '',
    toolCalls: reply.toolCalls ?? [],
    chunkSize: reply.chunkSize ?? DEFAULT_CHUNK_SIZE,
    chunkDelayMs: reply.chunkDelayMs ?? 0,
    firstChunkDelayMs: reply.firstChunkDelayMs ?? 0,
    doneReason: reply.doneReason ?? 'stop',
    ending: { kind: 'done' },
  }
}

/** The text of a final assistant message without tool calls: what Ollama continues. */
export function prefillOf(messages: any[]): string | undefined {
  const last = messages.at(-1)
  if (!isRecord(last) || last.role !== 'assistant' || (Array.isArray(last.tool_calls) && last.tool_calls.length > 0))
    return undefined
  return typeof last.content === 'string' && last.content !== '' ? last.content : undefined
}

function wireToolCalls(calls: ToolCallSpec[]): WireToolCall[] {
  // Go's `index,omitempty` means the first call carries no index.
  return calls.map((c, i) => ({
    function: { ...(i > 0 ? { index: i } : {}), name: c.name, arguments: c.arguments },
  }))
}

/** The message pieces of a streamed answer, in Ollama's order: thinking, content, tool calls. */
function streamPieces(script: Script): WireMessage[] {
  const pieces: WireMessage[] = []
  for (const t of chunkText(script.thinking, script.chunkSize))
    pieces.push({ role: 'assistant', content: '', thinking: t })
  for (const c of chunkText(script.content, script.chunkSize)) pieces.push({ role: 'assistant', content: c })
  if (script.toolCalls.length > 0) {
    pieces.push({ role: 'assistant', content: '', tool_calls: wireToolCalls(script.toolCalls) })
  }
  return pieces
}

/** The final stats, shaped like Ollama's (nanosecond durations). */
function stats(startedNs: number, promptTokens: number, evalTokens: number, doneReason = 'stop') {
  const total = Math.max(1, Math.round(Bun.nanoseconds() - startedNs))
  const load = Math.round(total * 0.05)
  const promptEval = Math.round(total * 0.15)
  return {
    done_reason: doneReason,
    total_duration: total,
    load_duration: load,
    prompt_eval_count: promptTokens,
    prompt_eval_duration: promptEval,
    eval_count: Math.max(1, evalTokens),
    eval_duration: Math.max(1, total - load - promptEval),
  }
}

/** Wraps an async generator in a pull-driven stream, so cancellation reaches the generator. */
function generatorStream(
  gen: AsyncGenerator<Uint8Array, void>,
  onCancel: () => void,
  onFinish: () => void,
): ReadableStream<Uint8Array> {
  let finished = false
  const finish = () => {
    if (!finished) {
      finished = true
      onFinish()
    }
  }
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const step = await gen.next()
          if (step.done) {
            controller.close()
            finish()
          } else {
            controller.enqueue(step.value)
          }
        } catch (err) {
          controller.error(err)
          finish()
        }
      },
      async cancel() {
        onCancel() // wakes any sleep inside the generator so return() can complete
        await gen.return(undefined)
        finish()
      },
    },
    { highWaterMark: 0 },
  )
}

// ---------------------------------------------------------------------------------------------

export async function startFakeOllama(opts: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const requests: ChatRequestRecord[] = []
  const queue: Reply[] = []
  let handler: ChatHandler | undefined = opts.handler
  let inFlight = 0
  let closed = false
  // Aborted by close(): releases every hanging request and pending delay.
  const shutdown = new AbortController()

  const fake: FakeOllama = {
    url: '',
    port: 0,
    requests,
    embedded: 0,
    embedCalls: [],
    models: [...(opts.models ?? ['llama3.2'])],
    enqueue: (...replies) => void queue.push(...replies),
    setHandler: (h) => void (handler = h),
    inFlight: () => inFlight,
    close: async () => {
      if (closed) return
      closed = true
      shutdown.abort()
      await server.stop(true)
    },
  }

  const embedModels = opts.embedModels ?? ['nomic-embed-text']
  const isEmbedModel = (name: string) => embedModels.some((m) => withTag(m) === withTag(name))
  const hasModel = (name: string) => fake.models.some((m) => withTag(m) === withTag(name)) || isEmbedModel(name)
  const capabilitiesOf = (name: string) =>
    opts.capabilities?.[name] ??
    opts.capabilities?.[withTag(name)] ??
    (isEmbedModel(name) || /embed/i.test(name) ? ['embedding'] : ['completion', 'tools', 'thinking'])

  let embedCall = 0
  async function answerEmbed(req: Request): Promise<Response> {
    const body = (await req.json().catch(() => null)) as unknown
    if (!isRecord(body)) return json({ error: 'request body must be a JSON object' }, 400)
    const model = body.model
    if (typeof model !== 'string' || model === '') return json({ error: 'model is required' }, 400)
    if (!hasModel(model)) return json({ error: `model "${model}" not found, try pulling it first` }, 404)
    if (!capabilitiesOf(model).includes('embedding'))
      return json({ error: `"${model}" does not support embeddings` }, 400)
    const input = typeof body.input === 'string' ? [body.input] : Array.isArray(body.input) ? body.input : undefined
    if (!input || input.some((t) => typeof t !== 'string'))
      return json({ error: 'input must be a string or a list of strings' }, 400)
    const failure = opts.embedFailure?.(embedCall++)
    if (failure) return json({ error: `scripted embed failure ${failure}` }, failure)
    const startedNs = Bun.nanoseconds()
    if (opts.embedDelayMs && !(await sleep(opts.embedDelayMs, AbortSignal.any([req.signal, shutdown.signal]))))
      return json({ error: 'request aborted' }, 499)
    fake.embedded += input.length
    fake.embedCalls.push(input.length)
    const total = Math.max(1, Math.round(Bun.nanoseconds() - startedNs))
    return json({
      model,
      embeddings: (input as string[]).map((t) => fakeEmbedding(t)),
      total_duration: total,
      load_duration: 0,
      prompt_eval_count: (input as string[]).reduce((n, t) => n + estimateTokens(t), 0),
    })
  }

  async function answerChat(req: Request): Promise<Response> {
    const startedNs = Bun.nanoseconds()
    const raw = await req.text()
    if (raw.trim() === '') return json({ error: 'missing request body' }, 400)
    let body: unknown
    try {
      body = JSON.parse(raw)
    } catch (err) {
      return json({ error: `invalid JSON request body: ${(err as Error).message}` }, 400)
    }
    if (!isRecord(body)) return json({ error: 'request body must be a JSON object' }, 400)
    if (typeof body.model !== 'string' || body.model === '') return json({ error: 'model is required' }, 400)

    const record: ChatRequestRecord = {
      model: body.model,
      messages: Array.isArray(body.messages) ? body.messages : [],
      tools: Array.isArray(body.tools) ? body.tools : undefined,
      think: body.think,
      stream: typeof body.stream === 'boolean' ? body.stream : undefined,
      options: body.options,
      receivedAt: Date.now(),
    }
    requests.push(record)
    const callIndex = requests.length - 1
    const stream = record.stream !== false // Ollama's default is to stream
    // Ends when the client goes away (Bun aborts req.signal) or the fake is closed.
    const signal = AbortSignal.any([req.signal, shutdown.signal])
    const released = () => json({ error: 'request aborted' }, 499) // nobody reads this

    let reply: Reply
    try {
      reply = queue.shift() ?? (handler ? await handler(record, { callIndex }) : DEFAULT_REPLY)
    } catch (err) {
      return json({ error: `fake ollama handler failed: ${(err as Error).message}` }, 500)
    }

    if ('httpError' in reply) {
      return json({ error: reply.message ?? `fake error ${reply.httpError}` }, reply.httpError)
    }
    if ('hang' in reply) {
      await untilAborted(signal)
      return released()
    }

    const script = toScript(reply, record.think)
    // Like Ollama, a final assistant message is the start of the answer (prefill): the model
    // continues it. A scripted answer that begins with that text streams only the rest.
    const prefill = prefillOf(record.messages)
    if (prefill && script.content.startsWith(prefill)) script.content = script.content.slice(prefill.length)
    const promptTokens = estimateTokens(record.messages) + (record.tools ? estimateTokens(record.tools) : 0)

    if (!stream) {
      // One object with the whole message, after the whole "generation" time.
      if (script.ending.kind === 'hang') {
        await untilAborted(signal)
        return released()
      }
      const pieces = streamPieces(script)
      const genMs = script.firstChunkDelayMs + Math.max(0, pieces.length - 1) * script.chunkDelayMs
      if (!(await sleep(genMs, signal))) return released()
      if (script.ending.kind === 'error') return json({ error: script.ending.message }, 500)
      const message: WireMessage = { role: 'assistant', content: script.content }
      if (script.thinking) message.thinking = script.thinking
      if (script.toolCalls.length > 0) message.tool_calls = wireToolCalls(script.toolCalls)
      const answer: WireChatLine = {
        model: record.model,
        created_at: new Date().toISOString(),
        message,
        done: true,
        ...stats(startedNs, promptTokens, pieces.length, script.doneReason),
      }
      return json(answer)
    }

    // Streaming: `inFlight` is released by the stream itself, not by this function.
    const streamAbort = new AbortController()
    const streamSignal = AbortSignal.any([signal, streamAbort.signal])
    async function* lines(): AsyncGenerator<Uint8Array, void> {
      const pieces = streamPieces(script)
      if (!(await sleep(script.firstChunkDelayMs, streamSignal))) return
      for (const [i, message] of pieces.entries()) {
        if (i > 0 && !(await sleep(script.chunkDelayMs, streamSignal))) return
        const line: WireChatLine = { model: record.model, created_at: new Date().toISOString(), message, done: false }
        yield ndjsonLine(line)
      }
      if (script.ending.kind === 'error') {
        yield ndjsonLine({ error: script.ending.message })
        return
      }
      if (script.ending.kind === 'hang') {
        await untilAborted(streamSignal)
        return // no done line: the client reports an incomplete stream
      }
      const done: WireChatLine = {
        model: record.model,
        created_at: new Date().toISOString(),
        message: { role: 'assistant', content: '' },
        done: true,
        ...stats(startedNs, promptTokens, pieces.length, script.doneReason),
      }
      yield ndjsonLine(done)
    }

    inFlight++
    const body$ = generatorStream(
      lines(),
      () => streamAbort.abort(),
      () => inFlight--,
    )
    return new Response(body$, { headers: { 'Content-Type': 'application/x-ndjson' } })
  }

  async function route(req: Request): Promise<Response> {
    const { pathname } = new URL(req.url)
    const method = req.method

    if (pathname === '/' && (method === 'GET' || method === 'HEAD')) {
      return new Response('Ollama is running', { headers: { 'Content-Type': 'text/plain; charset=utf-8' } })
    }
    if (pathname === '/api/version' && method === 'GET') return json({ version: FAKE_OLLAMA_VERSION })
    if (pathname === '/api/tags' && method === 'GET') {
      const modifiedAt = new Date().toISOString()
      return json({
        models: fake.models.map((m) => ({
          name: withTag(m),
          model: withTag(m),
          modified_at: modifiedAt,
          size: 2_019_393_189,
          digest: sha256(withTag(m)),
          details: modelDetails(m),
        })),
      })
    }
    if (pathname === '/api/show' && method === 'POST') {
      const body = (await req.json().catch(() => null)) as unknown
      // Older clients send `name` instead of `model`.
      const name = isRecord(body) ? (body.model ?? body.name) : undefined
      if (typeof name !== 'string' || name === '') return json({ error: 'model is required' }, 400)
      if (!hasModel(name)) return json({ error: `model '${name}' not found` }, 404)
      const details = modelDetails(name)
      const capabilities = capabilitiesOf(name)
      return json({
        license: '',
        modelfile: `# Modelfile generated by fake-ollama\nFROM ${withTag(name)}\n`,
        parameters: '',
        template: '{{ .Prompt }}',
        details,
        model_info: { 'general.architecture': details.family, [`${details.family}.context_length`]: 131072 },
        capabilities,
        modified_at: new Date().toISOString(),
      })
    }
    if (pathname === '/api/embed') {
      if (method !== 'POST') return json({ error: `method ${method} not allowed` }, 405)
      return answerEmbed(req)
    }
    if (pathname === '/api/chat') {
      if (method !== 'POST') return json({ error: `method ${method} not allowed` }, 405)
      inFlight++
      try {
        return await answerChat(req)
      } finally {
        inFlight--
      }
    }
    return json({ error: `${method} ${pathname} not found` }, 404)
  }

  const server: Server<undefined> = Bun.serve({
    hostname: '127.0.0.1',
    port: opts.port ?? 0,
    // Bun closes connections idle for 10s by default; hangs and slow streams must outlive that.
    idleTimeout: 0,
    development: false,
    fetch: route,
    error: (err) => json({ error: `fake ollama: ${err.message}` }, 500),
  })

  fake.port = server.port!
  fake.url = `http://127.0.0.1:${fake.port}`
  return fake
}

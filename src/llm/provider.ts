import { Ollama, type Message, type Tool } from 'ollama'
import type { CircuitBreaker, BreakerPermit } from './breaker'
import { LlmError, mapOllamaError } from './errors'

// The model's errors live in ./errors (the breaker and the scheduler use them too); re-exported for callers.
export { LlmError, mapOllamaError, unavailableMessage, type LlmErrorCode } from './errors'

export interface ToolCallRequest {
  name: string
  arguments: unknown
}

export interface ChatChunk {
  thinking?: string
  content?: string
  toolCalls?: ToolCallRequest[]
  usage?: { promptTokens: number; completionTokens: number }
  /** Why the model stopped (the last chunk): `stop`, or `length` when `num_predict` cut it. */
  doneReason?: string
}

/** Sampling options a caller may set (Ollama's `options`; the OpenAI API maps onto these). */
export interface ModelOptions {
  temperature?: number
  top_p?: number
  /** Most tokens to generate per model answer (OpenAI's `max_tokens`). */
  num_predict?: number
  seed?: number
  stop?: string[]
}

export interface ChatRequest {
  model: string
  options?: ModelOptions
  messages: Message[]
  tools?: Tool[]
  think?: boolean
  signal: AbortSignal
  /** Who asks: the fair scheduler queues per user. */
  userId: string
  /** Told when the request waits in the queue (position 1 = next). */
  onQueued?: (position: number) => void
}

/** Texts to embed with one model (Ollama `/api/embed`), for one user's fair share. */
export interface EmbedRequest {
  model: string
  input: string[]
  signal: AbortSignal
  userId: string
}

export interface LlmProvider {
  chat(request: ChatRequest): AsyncIterable<ChatChunk>
  /** One vector per input text, in order. Optional: providers without embeddings leave it out. */
  embed?(request: EmbedRequest): Promise<number[][]>
  /** Models that can chat (an embedding-only model is left out). Optional refinement of listModels. */
  listChatModels?(): Promise<string[]>
  /** One short non-streamed answer (thread titles). */
  complete(request: Omit<ChatRequest, 'tools' | 'think' | 'onQueued'>): Promise<string>
  listModels(): Promise<string[]>
  /** The configured hosts, for messages. */
  describeHosts(): string
  supportsThinking(model: string): Promise<boolean>
  /** Whether at least one host answers, with per-host detail for /ready. */
  status(): Promise<LlmStatus>
  /** Waiting requests per model (fair queue), for metrics. Optional: not every provider queues. */
  depths?(): Record<string, number>
  /** Circuit state per host (`closed` / `open` / `half_open`), for metrics. */
  circuits?(): Record<string, string>
}

export interface LlmStatus {
  reachable: boolean
  hosts: { host: string; reachable: boolean; circuit?: string; inFlight?: number }[]
  /** The fair queue: requests waiting per model, and holding a slot. */
  queue?: { depths: Record<string, number>; queued: number; inFlight: number }
}

/** A fetch that also honours `signal`: the client's own abort() can't reach requests without headers yet. */
function fetchWithSignal(signal: AbortSignal): typeof fetch {
  return ((input: any, init?: RequestInit) =>
    fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal })) as typeof fetch
}

/**
 * Talks to one Ollama host with the real `ollama` client. With a circuit breaker, every chat
 * call passes through it: it fails fast while the circuit is open, and reports how it went.
 */
export class OllamaHost {
  inFlight = 0
  readonly #thinking = new Map<string, { value: boolean; at: number }>()
  readonly #thinkingLookups = new Map<string, Promise<boolean>>()
  readonly #perModel = new Map<string, number>()

  constructor(
    readonly host: string,
    readonly breaker?: CircuitBreaker,
  ) {}

  /** Calls of one model in flight on this host. */
  inFlightOf(model: string): number {
    return this.#perModel.get(model) ?? 0
  }

  #begin(model: string, userId: string): BreakerPermit | undefined {
    const permit = this.breaker?.enter(userId) // throws llm_unavailable at once while open
    this.inFlight++
    this.#perModel.set(model, this.inFlightOf(model) + 1)
    return permit
  }

  #end(model: string, permit: BreakerPermit | undefined) {
    permit?.done()
    this.inFlight--
    const left = this.inFlightOf(model) - 1
    if (left <= 0) this.#perModel.delete(model)
    else this.#perModel.set(model, left)
  }

  /** Maps a failure, tells the breaker (aborts say nothing about the host), and returns what to throw. */
  #fail(
    error: unknown,
    request: { signal: AbortSignal; model: string },
    answered: boolean,
    permit: BreakerPermit | undefined,
  ): unknown {
    if (request.signal.aborted) return request.signal.reason ?? error
    const mapped = mapOllamaError(error, this.host, request.model, answered)
    permit?.failure(mapped)
    return mapped
  }

  client(signal?: AbortSignal) {
    return new Ollama({ host: this.host, ...(signal && { fetch: fetchWithSignal(signal) }) })
  }

  async *chat(request: ChatRequest): AsyncGenerator<ChatChunk> {
    let answered = false
    const permit = this.#begin(request.model, request.userId)
    try {
      const stream = await this.client(request.signal).chat({
        model: request.model,
        messages: request.messages,
        tools: request.tools?.length ? request.tools : undefined,
        stream: true,
        ...(request.think !== undefined && { think: request.think }),
        ...(request.options && { options: request.options }),
      })
      answered = true
      permit?.answered() // headers arrived: the host answers (a half-open circuit closes)
      const onAbort = () => stream.abort()
      request.signal.addEventListener('abort', onAbort, { once: true })
      try {
        for await (const part of stream) {
          const m = part.message
          const chunk: ChatChunk = {}
          if (m?.thinking) chunk.thinking = m.thinking
          if (m?.content) chunk.content = m.content
          if (m?.tool_calls?.length)
            chunk.toolCalls = m.tool_calls.map((c) => ({ name: c.function.name, arguments: c.function.arguments }))
          if (part.done) {
            chunk.usage = { promptTokens: part.prompt_eval_count ?? 0, completionTokens: part.eval_count ?? 0 }
            if (part.done_reason) chunk.doneReason = part.done_reason
          }
          yield chunk
        }
        permit?.success()
      } finally {
        request.signal.removeEventListener('abort', onAbort)
      }
    } catch (error) {
      throw this.#fail(error, request, answered, permit)
    } finally {
      this.#end(request.model, permit)
    }
  }

  async complete(request: Omit<ChatRequest, 'tools' | 'think' | 'onQueued'>): Promise<string> {
    const permit = this.#begin(request.model, request.userId)
    try {
      const answer = await this.client(request.signal).chat({
        model: request.model,
        messages: request.messages,
        stream: false,
      })
      permit?.success()
      return answer.message?.content ?? ''
    } catch (error) {
      throw this.#fail(error, request, false, permit)
    } finally {
      this.#end(request.model, permit)
    }
  }

  async embed(request: EmbedRequest): Promise<number[][]> {
    const permit = this.#begin(request.model, request.userId)
    try {
      const answer = await this.client(request.signal).embed({ model: request.model, input: request.input })
      permit?.success()
      if (!Array.isArray(answer.embeddings) || answer.embeddings.length !== request.input.length) {
        throw new LlmError(
          'llm_error',
          `Ollama returned ${answer.embeddings?.length ?? 0} embeddings for ${request.input.length} texts`,
        )
      }
      return answer.embeddings
    } catch (error) {
      throw this.#fail(error, request, false, permit)
    } finally {
      this.#end(request.model, permit)
    }
  }

  async listModels(): Promise<string[]> {
    const { models } = await this.client(AbortSignal.timeout(3000)).list()
    return models.map((m) => m.name)
  }

  /** Ollama's `/api/show` capabilities; undefined when the host does not say (older Ollama). */
  async capabilities(model: string): Promise<string[] | undefined> {
    try {
      const info = await this.client(AbortSignal.timeout(3000)).show({ model })
      return (info as { capabilities?: string[] }).capabilities
    } catch {
      return undefined
    }
  }

  /** Thinking is asked for only where the model has it: others answer 400 to `think`. */
  async supportsThinking(model: string): Promise<boolean> {
    const cached = this.#thinking.get(model)
    if (cached && Date.now() - cached.at < 300_000) return cached.value
    // One lookup at a time per model: a crowd of runs starting together (or together after the
    // cache expired) shares it instead of each asking /api/show.
    let pending = this.#thinkingLookups.get(model)
    if (!pending) {
      pending = this.#lookUpThinking(model).finally(() => this.#thinkingLookups.delete(model))
      this.#thinkingLookups.set(model, pending)
    }
    return pending
  }

  async #lookUpThinking(model: string): Promise<boolean> {
    try {
      const info = await this.client(AbortSignal.timeout(3000)).show({ model })
      const value = (info as { capabilities?: string[] }).capabilities?.includes('thinking') ?? false
      this.#thinking.set(model, { value, at: Date.now() })
      return value
    } catch {
      return false // not cached: a host that was down must not keep thinking off once it is back
    }
  }

  async ping(): Promise<boolean> {
    try {
      const res = await fetch(`${this.host}/api/version`, { signal: AbortSignal.timeout(2000) })
      return res.ok
    } catch {
      return false
    }
  }
}

import { Ollama, type Message, type Tool } from 'ollama'

export type LlmErrorCode = 'llm_unavailable' | 'llm_error' | 'model_not_found'

export class LlmError extends Error {
  constructor(
    readonly code: LlmErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message)
  }
}

export interface ToolCallRequest {
  name: string
  arguments: unknown
}

export interface ChatChunk {
  thinking?: string
  content?: string
  toolCalls?: ToolCallRequest[]
  usage?: { promptTokens: number; completionTokens: number }
}

export interface ChatRequest {
  model: string
  messages: Message[]
  tools?: Tool[]
  think?: boolean
  signal: AbortSignal
  /** Who asks: the fair scheduler queues per user. */
  userId: string
  /** Told when the request waits in the queue (position 1 = next). */
  onQueued?: (position: number) => void
}

export interface LlmProvider {
  chat(request: ChatRequest): AsyncIterable<ChatChunk>
  /** One short non-streamed answer (thread titles). */
  complete(request: Omit<ChatRequest, 'tools' | 'think' | 'onQueued'>): Promise<string>
  listModels(): Promise<string[]>
  /** The configured hosts, for messages. */
  describeHosts(): string
  supportsThinking(model: string): Promise<boolean>
  /** Whether at least one host answers, with per-host detail for /ready. */
  status(): Promise<{ reachable: boolean; hosts: { host: string; reachable: boolean; circuit?: string }[] }>
}

export function unavailableMessage(host: string, model: string) {
  return `Ollama is not reachable at ${host}. Start it with \`ollama serve\`, make sure the model is pulled (\`ollama pull ${model}\`), or point OLLAMA_HOST at a running Ollama.`
}

/** A fetch that also honours `signal`: the client's own abort() can't reach requests without headers yet. */
function fetchWithSignal(signal: AbortSignal): typeof fetch {
  return ((input: any, init?: RequestInit) =>
    fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal })) as typeof fetch
}

const isAbort = (error: unknown) => error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')

/** Maps what the ollama client throws onto our error codes. */
export function mapOllamaError(error: unknown, host: string, model: string, streamed: boolean): Error {
  if (isAbort(error) || error instanceof LlmError) return error as Error
  const e = error as { name?: string; status_code?: number; message?: string }
  if (e?.name === 'ResponseError' && typeof e.status_code === 'number') {
    if (e.status_code === 404 && /model/i.test(e.message ?? '')) {
      return new LlmError('model_not_found', `The model "${model}" is not available on ${host}. Pull it with \`ollama pull ${model}\`.`, 404)
    }
    if (e.status_code === 503 || e.status_code === 502 || e.status_code === 504) {
      return new LlmError('llm_unavailable', `Ollama at ${host} is busy or unavailable (${e.status_code}): ${e.message}`, e.status_code)
    }
    return new LlmError('llm_error', `Ollama answered ${e.status_code}: ${e.message}`, e.status_code)
  }
  if (streamed) return new LlmError('llm_error', `The model failed while answering: ${e?.message ?? String(error)}`)
  return new LlmError('llm_unavailable', unavailableMessage(host, model))
}

/** Talks to one Ollama host with the real `ollama` client. */
export class OllamaHost {
  inFlight = 0
  readonly #thinking = new Map<string, { value: boolean; at: number }>()

  constructor(readonly host: string) {}

  client(signal?: AbortSignal) {
    return new Ollama({ host: this.host, ...(signal && { fetch: fetchWithSignal(signal) }) })
  }

  async *chat(request: ChatRequest): AsyncGenerator<ChatChunk> {
    let streamed = false
    this.inFlight++
    try {
      const stream = await this.client(request.signal).chat({
        model: request.model,
        messages: request.messages,
        tools: request.tools?.length ? request.tools : undefined,
        stream: true,
        ...(request.think !== undefined && { think: request.think }),
      })
      const onAbort = () => stream.abort()
      request.signal.addEventListener('abort', onAbort, { once: true })
      try {
        for await (const part of stream) {
          streamed = true
          const m = part.message
          const chunk: ChatChunk = {}
          if (m?.thinking) chunk.thinking = m.thinking
          if (m?.content) chunk.content = m.content
          if (m?.tool_calls?.length) chunk.toolCalls = m.tool_calls.map((c) => ({ name: c.function.name, arguments: c.function.arguments }))
          if (part.done) chunk.usage = { promptTokens: part.prompt_eval_count ?? 0, completionTokens: part.eval_count ?? 0 }
          yield chunk
        }
      } finally {
        request.signal.removeEventListener('abort', onAbort)
      }
    } catch (error) {
      if (request.signal.aborted) throw request.signal.reason ?? error
      throw mapOllamaError(error, this.host, request.model, streamed)
    } finally {
      this.inFlight--
    }
  }

  async complete(request: Omit<ChatRequest, 'tools' | 'think' | 'onQueued'>): Promise<string> {
    this.inFlight++
    try {
      const answer = await this.client(request.signal).chat({ model: request.model, messages: request.messages, stream: false })
      return answer.message?.content ?? ''
    } catch (error) {
      if (request.signal.aborted) throw request.signal.reason ?? error
      throw mapOllamaError(error, this.host, request.model, false)
    } finally {
      this.inFlight--
    }
  }

  async listModels(): Promise<string[]> {
    const { models } = await this.client(AbortSignal.timeout(3000)).list()
    return models.map((m) => m.name)
  }

  /** Thinking is asked for only where the model has it: others answer 400 to `think`. */
  async supportsThinking(model: string): Promise<boolean> {
    const cached = this.#thinking.get(model)
    if (cached && Date.now() - cached.at < 300_000) return cached.value
    let value = false
    try {
      const info = await this.client(AbortSignal.timeout(3000)).show({ model })
      value = (info as { capabilities?: string[] }).capabilities?.includes('thinking') ?? false
    } catch {}
    this.#thinking.set(model, { value, at: Date.now() })
    return value
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

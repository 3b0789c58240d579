import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import { LlmError, unavailableMessage } from './errors'
import {
  OllamaHost,
  type ChatChunk,
  type ChatRequest,
  type EmbedRequest,
  type LlmProvider,
  type LlmStatus,
} from './provider'
import { FairScheduler } from './scheduler'
import { BREAKER_DEFAULTS, HostBreakers, breakerMessage, type StateChangeListener } from './breaker'
import { ServiceUnavailableError } from '../http/errors'
import { log } from '../log'

export interface OllamaProviderOptions {
  /** Requests one host serves per model at a time (OLLAMA_SLOTS, default 1 like Ollama's own default). */
  slots?: number
  /** Requests one user may have waiting for a model slot (LLM_QUEUE_PER_USER). */
  maxQueuedPerUser?: number
  /** Requests that may wait in all (LLM_QUEUE_MAX). */
  maxQueued?: number
  /** Consecutive failures that open a host's circuit (BREAKER_FAILURES). */
  breakerFailures?: number
  /** Milliseconds an open circuit waits before a probe (BREAKER_COOLDOWN_MS). */
  breakerCooldownMs?: number
  /** Every circuit change of every host (metrics, alerts). */
  onStateChange?: StateChangeListener
}

/**
 * `reportIntervalMs`: waiters hear their improved places once a second (a newcomer its first
 * within 100 ms); each pass costs O(waiting), so reports cost O(waiting) a second in total.
 */
export const PROVIDER_DEFAULTS = { slots: 1, maxQueuedPerUser: 16, maxQueued: 256, reportIntervalMs: 1000 } as const

export type OllamaProvider = LlmProvider & {
  hosts: OllamaHost[]
  scheduler: FairScheduler
  breakers: HostBreakers
  /** Model requests waiting, per model (metrics). */
  depths(): Record<string, number>
  /** Circuit state per host (metrics). */
  circuits(): Record<string, string>
  /** Every circuit change of every host (metrics, alerts); returns the unsubscribe. */
  onCircuitChange(listener: StateChangeListener): () => void
  /** Requests holding a model slot. */
  readonly inFlight: number
  /** Stops the breakers' timers and fails what still waits (server stop). */
  close(): void
}

/**
 * The model provider over one or more Ollama hosts.
 *
 * Every model call waits for a slot in the fair scheduler (per model, round-robin across
 * users), then goes to the least-loaded host whose circuit is not open. The slot is held
 * for the whole streamed call and released when it completes, fails or is aborted. A host
 * that keeps failing has its circuit opened and gets no calls until a probe succeeds; when
 * every host is open, calls fail at once with `llm_unavailable` instead of waiting.
 */
export function createOllamaProvider(hostList: string[], options: OllamaProviderOptions = {}): OllamaProvider {
  const hosts = [...new Set(hostList)]
  const slots = Math.max(1, options.slots ?? PROVIDER_DEFAULTS.slots)
  const breakers = new HostBreakers(hosts, {
    failures: options.breakerFailures ?? BREAKER_DEFAULTS.failures,
    cooldownMs: options.breakerCooldownMs ?? BREAKER_DEFAULTS.cooldownMs,
  })
  const pool = hosts.map((h) => new OllamaHost(h, breakers.get(h)))

  /**
   * Slots a host offers now: all when closed, none when open, and when half-open the one probe
   * while it is free (so other requests wait for the probe's verdict instead of failing).
   */
  const hostSlots = (h: OllamaHost) => {
    const state = h.breaker!.state
    return state === 'closed' ? slots : state === 'half_open' && h.breaker!.available ? 1 : 0
  }
  const scheduler = new FairScheduler({
    slots: () => pool.reduce((n, h) => n + hostSlots(h), 0),
    maxQueuedPerUser: options.maxQueuedPerUser ?? PROVIDER_DEFAULTS.maxQueuedPerUser,
    maxQueued: options.maxQueued ?? PROVIDER_DEFAULTS.maxQueued,
    reportIntervalMs: PROVIDER_DEFAULTS.reportIntervalMs,
  })

  const allOpen = () => pool.every((h) => h.breaker!.state === 'open')
  const allDown = () => {
    if (pool.length === 1)
      return new LlmError('llm_unavailable', breakerMessage(pool[0].host, pool[0].breaker!.retryInMs))
    const retry = Math.min(...pool.map((h) => h.breaker!.retryInMs))
    return new LlmError(
      'llm_unavailable',
      `Every Ollama host (${hosts.join(', ')}) is down (the next try is in about ${Math.max(1, Math.ceil(retry / 1000))}s). Start Ollama with \`ollama serve\` on those machines, or point OLLAMA_HOST at a running Ollama.`,
    )
  }

  breakers.onStateChange((host, from, to) => {
    if (to === 'open') log.warn('Ollama circuit opened: calls to this host fail fast', { host, from })
    else log.info('Ollama circuit changed', { host, from, to })
    try {
      options.onStateChange?.(host, from, to)
    } catch {}
    // After the breaker finished its change (this may run inside a state read).
    queueMicrotask(() => {
      if (allOpen()) scheduler.failQueued(allDown())
      else scheduler.pump()
    })
  })

  /** The least-loaded host that takes a call now: fewest calls of this model, then fewest in all. */
  const pick = (model: string): OllamaHost | undefined => {
    let best: OllamaHost | undefined
    for (const h of pool) {
      if (!h.breaker!.available) continue
      if (
        !best ||
        h.inFlightOf(model) < best.inFlightOf(model) ||
        (h.inFlightOf(model) === best.inFlightOf(model) && h.inFlight < best.inFlight)
      )
        best = h
    }
    return best
  }

  /** No host takes a call now although not all are open: one is half-open with its probe out. */
  const noHost = () =>
    allOpen()
      ? allDown()
      : new LlmError(
          'llm_unavailable',
          `Ollama (${hosts.join(', ')}) was down and is being tested with one request; try again in a moment. If it stays down, start it with \`ollama serve\`.`,
        )

  /** A probe that ended without a verdict (aborted) frees the probe place: let waiters at it. */
  const afterCall = (host: OllamaHost) => {
    if (host.breaker!.state === 'half_open') queueMicrotask(() => scheduler.pump())
  }

  /** Capabilities from the first host that reports them, cached a few minutes per model. */
  const capabilityCache = new Map<string, { value: string[] | undefined; at: number }>()
  async function capabilitiesOf(model: string): Promise<string[] | undefined> {
    const cached = capabilityCache.get(model)
    if (cached && Date.now() - cached.at < 300_000) return cached.value
    for (const h of pool) {
      const value = await h.capabilities(model)
      if (value) {
        capabilityCache.set(model, { value, at: Date.now() })
        return value
      }
    }
    return undefined
  }

  async function* chat(request: ChatRequest): AsyncGenerator<ChatChunk> {
    if (allOpen()) throw allDown()
    const lease = await scheduler.acquire({
      model: request.model,
      userId: request.userId,
      signal: request.signal,
      onQueued: request.onQueued,
    })
    let host: OllamaHost | undefined
    try {
      request.signal.throwIfAborted()
      host = pick(request.model)
      if (!host) throw noHost()
      yield* host.chat(request)
    } finally {
      lease.release()
      if (host) afterCall(host)
    }
  }

  /** One call in the fair queue (per model, round-robin by user) on a host picked for it. */
  async function onOneHost<T>(
    request: { model: string; userId: string; signal: AbortSignal },
    call: (host: (typeof pool)[number]) => Promise<T>,
  ): Promise<T> {
    if (allOpen()) throw allDown()
    return scheduler.run({ model: request.model, userId: request.userId, signal: request.signal }, async () => {
      request.signal.throwIfAborted()
      const host = pick(request.model)
      if (!host) throw noHost()
      try {
        return await call(host)
      } finally {
        afterCall(host)
      }
    })
  }

  return {
    hosts: pool,
    scheduler,
    breakers,
    describeHosts: () => hosts.join(', '),
    chat,
    complete: (request) => onOneHost(request, (host) => host.complete(request)),
    async listModels() {
      const lists = await Promise.allSettled(pool.map((h) => h.listModels()))
      const ok = lists.filter((l): l is PromiseFulfilledResult<string[]> => l.status === 'fulfilled')
      if (ok.length === 0) throw (lists[0] as PromiseRejectedResult).reason
      return [...new Set(ok.flatMap((l) => l.value))].sort()
    },
    async listChatModels() {
      const all = await this.listModels()
      // An embedding model (capabilities without "completion") is not offered for chat; a host
      // that does not report capabilities keeps the model listed.
      const verdicts = await Promise.all(all.map(async (model) => (await capabilitiesOf(model)) ?? ['completion']))
      return all.filter((_, i) => verdicts[i].includes('completion'))
    },
    /** Embeddings wait in the same fair queue as chat calls (per model, round-robin by user). */
    embed: (request: EmbedRequest) => onOneHost(request, (host) => host.embed(request)),
    async supportsThinking(model) {
      const host = pick(model)
      return host ? host.supportsThinking(model) : false
    },
    async status(): Promise<LlmStatus> {
      const hostStatus = await Promise.all(
        pool.map(async (h) => ({
          host: h.host,
          reachable: await h.ping(),
          circuit: h.breaker!.state,
          inFlight: h.inFlight,
        })),
      )
      return {
        reachable: hostStatus.some((h) => h.reachable),
        hosts: hostStatus,
        queue: { depths: scheduler.depths(), queued: scheduler.queued, inFlight: scheduler.inFlight },
      }
    },
    depths: () => scheduler.depths(),
    circuits: () => breakers.states(),
    onCircuitChange: (listener) => breakers.onStateChange(listener),
    get inFlight() {
      return scheduler.inFlight
    },
    close() {
      breakers.dispose()
      scheduler.failQueued(new LlmError('llm_unavailable', 'the server is stopping'))
    },
  }
}

/** GET /api/models → {models, default}. */
export function modelRoutes(llm: LlmProvider, defaultModel: string, guard: AuthGuard) {
  return new Elysia({ name: 'model-routes' }).use(guard).get(
    '/api/models',
    async () => {
      try {
        return { models: await (llm.listChatModels ? llm.listChatModels() : llm.listModels()), default: defaultModel }
      } catch {
        throw new ServiceUnavailableError('llm_unavailable', unavailableMessage(llm.describeHosts(), defaultModel))
      }
    },
    { auth: true },
  )
}

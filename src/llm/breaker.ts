import { LlmError } from './provider'

/**
 * A circuit breaker per Ollama host.
 *
 *   closed ──N consecutive failures──▶ open ──cooldown──▶ half_open ──probe ok──▶ closed
 *                                        ▲                    │
 *                                        └────probe fails─────┘
 *
 * Failures are what says the host is down: connection refused, 5xx, `llm_unavailable`. A 4xx
 * (`model_not_found`, a bad request) means the host answered, and counts as a success; an
 * abort (cancel, timeout of the run) says nothing about the host and counts as neither.
 * While open every call fails fast with `llm_unavailable`; half-open lets one probe through.
 */
export type CircuitState = 'closed' | 'open' | 'half_open'

export type StateChangeListener = (host: string, from: CircuitState, to: CircuitState) => void

export interface BreakerOptions {
  /** Consecutive failures that open the circuit (BREAKER_FAILURES, default 3). */
  failures: number
  /** Milliseconds the circuit stays open before a probe is let through (BREAKER_COOLDOWN_MS, default 10000). */
  cooldownMs: number
  onStateChange?: StateChangeListener
  /** Clock, for tests. */
  now?: () => number
}

export const BREAKER_DEFAULTS = { failures: 3, cooldownMs: 10_000 } as const

/** How an outcome counts for the breaker. */
export type Verdict = 'failure' | 'success' | 'ignore'

const isAbort = (error: unknown) => error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')

/** Whether an error of a call says the host is down. */
export function verdictOf(error: unknown): Verdict {
  if (isAbort(error)) return 'ignore'
  if (error instanceof LlmError) {
    if (error.code === 'too_many_runs' || error.code === 'server_busy') return 'ignore' // ours, not the host's
    if (error.code === 'llm_unavailable') return 'failure'
    if (error.status !== undefined && error.status >= 500) return 'failure'
    if (error.status !== undefined && error.status >= 400) return 'success' // the host answered
    return 'failure' // a model error mid-stream (Ollama's {"error"} line, a dropped connection)
  }
  return 'failure'
}

/** One call's pass through the breaker: report how it went, or just let go. */
export interface BreakerPermit {
  /**
   * The host started answering (response headers): a half-open probe closes the circuit here,
   * without waiting for a long answer to finish. The failure count is reset only by `success`.
   */
  answered(): void
  /** The call completed. */
  success(): void
  /** The call failed with `error`; counted according to `verdictOf`. */
  failure(error: unknown): void
  /** Ends the pass; a probe that reported nothing frees the probe place. Idempotent. */
  done(): void
}

export function breakerMessage(host: string, retryInMs: number): string {
  const seconds = Math.max(1, Math.ceil(retryInMs / 1000))
  return `Ollama at ${host} is down (it failed repeatedly; the next try is in about ${seconds}s). Start it with \`ollama serve\` on that machine, or point OLLAMA_HOST at a running Ollama.`
}

export class CircuitBreaker {
  #state: CircuitState = 'closed'
  #failures = 0
  #openedAt = 0
  #probe = false
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #listeners = new Set<StateChangeListener>()
  readonly #now: () => number

  constructor(
    readonly host: string,
    private readonly options: BreakerOptions = { ...BREAKER_DEFAULTS },
  ) {
    this.#now = options.now ?? (() => Date.now())
    if (options.onStateChange) this.#listeners.add(options.onStateChange)
  }

  /** The current state; an open circuit whose cooldown is over turns half-open here. */
  get state(): CircuitState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.options.cooldownMs) this.#to('half_open')
    return this.#state
  }

  /** Consecutive failures counted so far (closed state). */
  get failures(): number {
    return this.#failures
  }

  /** Milliseconds until an open circuit lets a probe through (0 when not open). */
  get retryInMs(): number {
    return this.state === 'open' ? Math.max(0, this.#openedAt + this.options.cooldownMs - this.#now()) : 0
  }

  /** Whether a call would be let through now (without taking the probe place). */
  get available(): boolean {
    const state = this.state
    return state === 'closed' || (state === 'half_open' && !this.#probe)
  }

  onStateChange(listener: StateChangeListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Lets a call through, or throws `llm_unavailable` at once while open (or while the probe is out). */
  enter(): BreakerPermit {
    const state = this.state
    if (state === 'open' || (state === 'half_open' && this.#probe)) {
      throw new LlmError(
        'llm_unavailable',
        state === 'open'
          ? breakerMessage(this.host, this.retryInMs)
          : `Ollama at ${this.host} was down and is being tested with one request; try again in a moment. If it stays down, start it with \`ollama serve\`.`,
      )
    }
    const probe = state === 'half_open'
    if (probe) this.#probe = true
    let settled = false
    const settle = () => {
      if (probe && !settled) this.#probe = false
      settled = true
    }
    return {
      answered: () => {
        if (!probe || settled) return
        settle()
        if (this.#state === 'half_open') this.#to('closed')
      },
      success: () => {
        settle()
        this.recordSuccess()
      },
      failure: (error) => {
        const verdict = verdictOf(error)
        settle()
        if (verdict === 'failure') this.recordFailure()
        else if (verdict === 'success') this.recordSuccess()
      },
      done: settle,
    }
  }

  recordSuccess(): void {
    this.#failures = 0
    if (this.#state !== 'closed') this.#to('closed')
  }

  recordFailure(): void {
    const state = this.state
    if (state === 'half_open') return this.#to('open')
    if (state === 'open') return
    this.#failures++
    if (this.#failures >= this.options.failures) this.#to('open')
  }

  /** Clears the cooldown timer (server stop). */
  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #to(next: CircuitState) {
    const from = this.#state
    if (from === next) return
    this.#state = next
    this.dispose()
    if (next === 'open') {
      this.#openedAt = this.#now()
      this.#probe = false
      // Turns half-open on time even when nobody asks, so waiting requests can be served.
      this.#timer = setTimeout(() => this.#wake(), this.options.cooldownMs)
      this.#timer.unref?.()
    }
    if (next === 'closed') this.#failures = 0
    for (const listener of this.#listeners) {
      try {
        listener(this.host, from, next)
      } catch {}
    }
  }

  #wake() {
    this.#timer = undefined
    if (this.state !== 'open') return // the getter turned it half-open
    // A test clock that has not moved yet: look again later.
    this.#timer = setTimeout(() => this.#wake(), Math.max(10, this.retryInMs))
    this.#timer.unref?.()
  }
}

/** The breakers of all hosts, with one place to observe their state changes. */
export class HostBreakers {
  readonly #breakers = new Map<string, CircuitBreaker>()
  readonly #listeners = new Set<StateChangeListener>()

  constructor(
    hosts: string[],
    options: Partial<BreakerOptions> = {},
  ) {
    const { onStateChange, ...rest } = options
    if (onStateChange) this.#listeners.add(onStateChange)
    for (const host of hosts) {
      const breaker = new CircuitBreaker(host, { ...BREAKER_DEFAULTS, ...rest })
      breaker.onStateChange((h, from, to) => {
        for (const listener of this.#listeners) {
          try {
            listener(h, from, to)
          } catch {}
        }
      })
      this.#breakers.set(host, breaker)
    }
  }

  get(host: string): CircuitBreaker {
    const breaker = this.#breakers.get(host)
    if (!breaker) throw new Error(`no circuit breaker for ${host}`)
    return breaker
  }

  state(host: string): CircuitState {
    return this.get(host).state
  }

  /** Every host's state. */
  states(): Record<string, CircuitState> {
    return Object.fromEntries([...this.#breakers].map(([host, b]) => [host, b.state]))
  }

  /** Observes every host's changes; returns the unsubscribe. */
  onStateChange(listener: StateChangeListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  all(): CircuitBreaker[] {
    return [...this.#breakers.values()]
  }

  dispose(): void {
    for (const breaker of this.#breakers.values()) breaker.dispose()
  }
}

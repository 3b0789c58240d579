import { LlmError } from './errors'

/**
 * A circuit breaker per Ollama host.
 *
 *   closed ──N consecutive failures that show the host down──▶ open ──cooldown──▶ half_open ──probe ok──▶ closed
 *                                                               ▲                    │
 *                                                               └────probe fails─────┘
 *
 * The circuit opens only on evidence that the host is down for everyone, never because one
 * user's requests fail (that would fail every other user's runs for the cooldown):
 *
 * - `down`: the host did not answer at all — connection refused or reset before the response
 *   headers, 502/503/504, a transport time-out before the first byte. Always evidence.
 * - `suspect`: an HTTP 500 (or another 5xx). Ollama answers 500 both when it is broken (a model
 *   that cannot load) and when one request trips it, so it is evidence only when the failures
 *   come from at least two different users, and never when the host answered other requests
 *   while this one was out ("a 500 to one request while the host keeps answering others").
 * - `ignore`: about one request, not the host — an `{"error"}` line mid-stream or a connection
 *   dropped after the headers (the host answered), aborts (cancel, the run's time-out), and the
 *   fair queue's own refusals.
 * - `answered`: a 4xx (`model_not_found`, a bad request): the host answered; like a success.
 *
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

/** How an outcome counts for the breaker (see the class comment). */
export type Verdict = 'down' | 'suspect' | 'answered' | 'ignore'

/** A failure counted against the host: what kind, and whose request it was. */
interface CountedFailure {
  verdict: 'down' | 'suspect'
  userId?: string
}

const isAbort = (error: unknown) =>
  error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')

/** What an error of a call says about the host (errors as mapped by `mapOllamaError`). */
export function verdictOf(error: unknown): Verdict {
  if (isAbort(error)) return 'ignore' // the run's own abort: cancel or its time-out
  if (error instanceof LlmError) {
    if (error.code === 'too_many_runs' || error.code === 'server_busy') return 'ignore' // ours, not the host's
    if (error.code === 'llm_unavailable') return 'down' // refused, reset before headers, 502/503/504
    if (error.status !== undefined && error.status >= 500) return 'suspect'
    if (error.status !== undefined && error.status >= 400) return 'answered'
    return 'ignore' // mid-stream: an {"error"} line or a dropped answer, after the host answered
  }
  return 'down' // not mapped: the call never got an answer
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
  /** Consecutive failures counted against the host since its last success (closed state). */
  #counted: CountedFailure[] = []
  /** Answers (headers or completions) the host gave so far: tells whether it answered others meanwhile. */
  #answers = 0
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
    return this.#counted.length
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

  /**
   * Lets a call of `userId` through, or throws `llm_unavailable` at once while open (or while
   * the probe is out).
   */
  enter(userId?: string): BreakerPermit {
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
    const answersAtStart = this.#answers
    let ownAnswers = 0
    let settled = false
    const settle = () => {
      if (probe && !settled) this.#probe = false
      settled = true
    }
    return {
      answered: () => {
        this.#answers++
        ownAnswers++
        if (!probe || settled) return
        settle()
        if (this.#state === 'half_open') this.#to('closed')
      },
      success: () => {
        settle()
        this.recordSuccess()
      },
      failure: (error) => {
        let verdict = verdictOf(error)
        settle()
        // The host answered other calls while this one was out: its 500 is about this request.
        if (verdict === 'suspect' && this.#answers - answersAtStart - ownAnswers > 0) verdict = 'ignore'
        if (verdict === 'down' || verdict === 'suspect') this.recordFailure(verdict, userId)
        else if (verdict === 'answered') this.recordSuccess()
      },
      done: settle,
    }
  }

  recordSuccess(): void {
    this.#answers++
    this.#counted = []
    if (this.#state !== 'closed') this.#to('closed')
  }

  /**
   * Counts a failure against the host. The circuit opens once `failures` of them in a row show
   * the host down for everyone: one at least is `down`, or they come from two users or more.
   */
  recordFailure(verdict: 'down' | 'suspect' = 'down', userId?: string): void {
    const state = this.state
    if (state === 'half_open') {
      this.#to('open')
      return
    }
    if (state === 'open') return
    this.#counted.push({ verdict, userId })
    if (this.#counted.length > this.options.failures * 4) this.#counted.shift() // bounded: only the recent ones matter
    if (this.#counted.length >= this.options.failures && this.#showsHostDown()) this.#to('open')
  }

  #showsHostDown(): boolean {
    const recent = this.#counted.slice(-this.options.failures)
    if (recent.some((f) => f.verdict === 'down')) return true
    return new Set(recent.map((f) => f.userId ?? '')).size >= 2
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
    if (next === 'closed') this.#counted = []
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

  constructor(hosts: string[], options: Partial<BreakerOptions> = {}) {
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

import type { RunOutcome } from '../runs/outcome'
import { onIsolationGuard, runWithoutUser, type MissingUserContextError } from '../context/user-context'
import { log } from '../log'

/**
 * Operational alerts: a JSON POST to ALERT_WEBHOOK_URL and a warn log line, at most one per
 * alert kind per `minIntervalMs`. Raising an alert never throws and never waits: the POST runs
 * detached with a short timeout, and a failed POST is only logged.
 *
 * Raised on: a circuit breaker opening (`circuitOpened`), the run failure rate over a sliding
 * window (`runFinished`), event persistence failures (`watchPersister`), and the isolation guard
 * (code asking for the user outside any user context).
 */

export type AlertKind =
  | 'circuit_open'
  | 'run_failure_rate'
  | 'event_persistence_failed'
  | 'isolation_guard'
  | 'redis_unavailable'
export type AlertSeverity = 'warning' | 'critical'

/** The webhook body. */
export interface AlertPayload {
  alert: AlertKind
  severity: AlertSeverity
  message: string
  details: Record<string, unknown>
  /** ISO time the alert was raised. */
  at: string
}

export interface AlertOptions {
  webhookUrl?: string
  /** At most one alert of a kind per this many milliseconds (default 60 000). */
  minIntervalMs?: number
  /** Milliseconds the webhook may take before the POST is abandoned (default 3000). */
  timeoutMs?: number
  /** Failure ratio above which `run_failure_rate` fires (default 0.5)… */
  failureRate?: number
  /** …once the window holds at least this many finished runs (default 10)… */
  failureMinRuns?: number
  /** …within this many milliseconds (default 300 000). */
  failureWindowMs?: number
  /** How often persister failures are checked (default 10 000 ms). */
  pollMs?: number
  /** Told about each alert and what became of it (metrics). */
  onAlert?: (alert: AlertKind, outcome: 'sent' | 'suppressed' | 'failed' | 'logged') => void
  /** Told about each isolation-guard trip, rate-limited or not (metrics). */
  onIsolationGuard?: () => void
  /** For tests. */
  fetch?: typeof fetch
  now?: () => number
}

/** The subset of Config the alerts read. */
export interface AlertConfig {
  alertWebhookUrl?: string
  alerts?: {
    minIntervalMs?: number
    failureRate?: number
    failureMinRuns?: number
    failureWindowMs?: number
    timeoutMs?: number
  }
}

export class Alerts {
  readonly #opts: Required<Omit<AlertOptions, 'webhookUrl' | 'onAlert' | 'onIsolationGuard' | 'fetch' | 'now'>> &
    AlertOptions
  readonly #lastSent = new Map<AlertKind, number>()
  readonly #suppressed = new Map<AlertKind, number>()
  /** Finished runs in the failure window, oldest first: [time, failed]. */
  #window: { at: number; failed: boolean }[] = []
  readonly #inFlight = new Set<Promise<void>>()
  readonly #stops: (() => void)[] = []
  #closed = false

  constructor(opts: AlertOptions = {}) {
    this.#opts = {
      minIntervalMs: 60_000,
      timeoutMs: 3000,
      failureRate: 0.5,
      failureMinRuns: 10,
      failureWindowMs: 300_000,
      pollMs: 10_000,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    }
  }

  get webhookUrl() {
    return this.#opts.webhookUrl
  }

  #now() {
    return this.#opts.now?.() ?? Date.now()
  }

  /**
   * Raises an alert: logs it at warn and POSTs it, unless one of the same kind went out less
   * than `minIntervalMs` ago. Returns whether it went out (false: suppressed). Never throws.
   */
  raise(alert: AlertKind, severity: AlertSeverity, message: string, details: Record<string, unknown> = {}): boolean {
    try {
      if (this.#closed) return false
      const now = this.#now()
      const last = this.#lastSent.get(alert)
      if (last !== undefined && now - last < this.#opts.minIntervalMs) {
        this.#suppressed.set(alert, (this.#suppressed.get(alert) ?? 0) + 1)
        log.debug('alert suppressed by rate limit', { alert })
        this.#opts.onAlert?.(alert, 'suppressed')
        return false
      }
      this.#lastSent.set(alert, now)
      const suppressed = this.#suppressed.get(alert) ?? 0
      this.#suppressed.delete(alert)
      const payload: AlertPayload = {
        alert,
        severity,
        message,
        details: suppressed > 0 ? { ...details, suppressedSinceLast: suppressed } : details,
        at: new Date(now).toISOString(),
      }
      log.warn(`alert: ${message}`, { alert, severity, details: payload.details })
      if (this.#opts.webhookUrl) this.#track(this.#post(payload))
      else this.#opts.onAlert?.(alert, 'logged')
      return true
    } catch {
      return false
    }
  }

  #track(promise: Promise<void>) {
    this.#inFlight.add(promise)
    void promise.finally(() => this.#inFlight.delete(promise))
  }

  async #post(payload: AlertPayload): Promise<void> {
    const url = this.#opts.webhookUrl!
    const doFetch = this.#opts.fetch ?? fetch
    try {
      // Detached from whoever raised it: the POST acts for nobody.
      const res = await runWithoutUser(() =>
        doFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'local-chat-server-alerts' },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(this.#opts.timeoutMs),
        }),
      )
      await res.body?.cancel().catch(() => {})
      if (!res.ok) throw new Error(`the webhook answered ${res.status}`)
      this.#opts.onAlert?.(payload.alert, 'sent')
    } catch (error) {
      this.#opts.onAlert?.(payload.alert, 'failed')
      log.warn('alert webhook failed', {
        alert: payload.alert,
        webhook: originOf(url),
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      })
    }
  }

  /** The breaker of `host` opened: model calls to it fail fast for a while. */
  circuitOpened(host: string, details: Record<string, unknown> = {}): boolean {
    return this.raise(
      'circuit_open',
      'warning',
      `circuit breaker opened for Ollama at ${redactUrl(host)}; model calls to it fail fast until it recovers`,
      { host: redactUrl(host), ...details },
    )
  }

  /** The breaker's `onStateChange(host, from, to)`: alerts when a circuit opens. */
  /** Cluster mode lost Redis: cross-process delivery, cancels and shared limits are degraded. */
  redisDown(): boolean {
    return this.raise(
      'redis_unavailable',
      'critical',
      'Redis is unreachable: events of other processes, remote cancels and cluster-wide limits are degraded until it is back; runs stay resumable from the journal',
    )
  }

  circuitStateChanged(host: string, from: string, to: string): void {
    if (/^open$/i.test(String(to))) this.circuitOpened(host, { from })
  }

  /** RunManager's `onRunFinished`: feeds the failure-rate window. Never throws. */
  runFinished(outcome: Pick<RunOutcome, 'status' | 'error'>): void {
    try {
      this.#checkPersister()
      // A cancelled run is the user's choice, not a failure or a success of the service.
      if (outcome.status === 'cancelled') return
      const now = this.#now()
      this.#window.push({ at: now, failed: outcome.status === 'failed' })
      this.#prune(now)
      const total = this.#window.length
      if (outcome.status !== 'failed' || total < this.#opts.failureMinRuns) return
      const failed = this.#window.filter((r) => r.failed).length
      const rate = failed / total
      if (rate <= this.#opts.failureRate) return
      this.raise(
        'run_failure_rate',
        'critical',
        `${failed} of the last ${total} runs failed (${Math.round(rate * 100)}%, threshold ${Math.round(this.#opts.failureRate * 100)}%)`,
        {
          failed,
          total,
          rate: Number(rate.toFixed(3)),
          threshold: this.#opts.failureRate,
          windowMs: this.#opts.failureWindowMs,
          lastError: outcome.error?.code,
        },
      )
    } catch {}
  }

  #prune(now: number) {
    const cutoff = now - this.#opts.failureWindowMs
    let drop = 0
    while (drop < this.#window.length && this.#window[drop].at < cutoff) drop++
    if (drop > 0) this.#window = this.#window.slice(drop)
  }

  /** The failure-rate window as it stands (for /ready or tests). */
  failureWindow(): { total: number; failed: number } {
    this.#prune(this.#now())
    return { total: this.#window.length, failed: this.#window.filter((r) => r.failed).length }
  }

  #persister?: { readonly failures: number }
  #persisterSeen = 0

  /** Alerts when the persister's failure count grows; polled every `pollMs` and after runs. */
  watchPersister(persister: { readonly failures: number }): void {
    this.#persister = persister
    this.#persisterSeen = persister.failures
    const timer = setInterval(() => this.#checkPersister(), this.#opts.pollMs)
    timer.unref?.()
    this.#stops.push(() => clearInterval(timer))
  }

  /** Cheap: one number compared. */
  #checkPersister() {
    const persister = this.#persister
    if (!persister || persister.failures <= this.#persisterSeen) return
    const added = persister.failures - this.#persisterSeen
    this.#persisterSeen = persister.failures
    this.raise(
      'event_persistence_failed',
      'critical',
      `${added} batch(es) of run events could not be written to the database; those events are served from memory until restart and then lost`,
      {
        newFailures: added,
        totalFailures: persister.failures,
      },
    )
  }

  /** Runs `#checkPersister` now (after a run; tests). */
  checkPersister(): void {
    try {
      this.#checkPersister()
    } catch {}
  }

  /** Code asked for the current user outside any user context (refused by the guard). */
  isolationGuardTripped(error?: Error): boolean {
    try {
      this.#opts.onIsolationGuard?.()
    } catch {}
    // The first frames below the guard say which code asked.
    const where = error?.stack
      ?.split('\n')
      .slice(1)
      .map((l) => l.trim())
      .filter((l) => !/user-context\.ts/.test(l))
      .slice(0, 5)
    return this.raise(
      'isolation_guard',
      'critical',
      'code asked for the current user outside any user context; the call was refused (a bug: some entry point is not wrapped in runAsUser)',
      {
        ...(where?.length && { stack: where }),
      },
    )
  }

  /** Subscribes to the process-wide isolation guard until `close()`. */
  watchIsolationGuard(): void {
    this.#stops.push(onIsolationGuard((error: MissingUserContextError) => this.isolationGuardTripped(error)))
  }

  /** Resolves once every webhook POST started so far has ended (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight])
  }

  /** Stops watching; POSTs in flight finish on their own (bounded by the timeout). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const stop of this.#stops.splice(0)) stop()
  }
}

/** Webhook URLs often carry their secret in the path (Slack, Teams): log the origin only. */
function originOf(raw: string): string {
  try {
    return new URL(raw).origin
  } catch {
    return '[invalid url]'
  }
}

/** Hides credentials in a URL (`https://user:pass@host/…?token=…`). */
function redactUrl(raw: string): string {
  try {
    const url = new URL(raw)
    if (url.username || url.password) url.username = url.password = '***'
    if (url.search) url.search = '?…'
    return url.toString().replace(/\/$/, '')
  } catch {
    return raw
  }
}

/** The alerts of one server, from its configuration. */
export function createAlerts(
  config: AlertConfig,
  extra: Pick<AlertOptions, 'onAlert' | 'onIsolationGuard' | 'fetch' | 'now' | 'pollMs'> = {},
): Alerts {
  return new Alerts({
    webhookUrl: config.alertWebhookUrl,
    minIntervalMs: config.alerts?.minIntervalMs,
    failureRate: config.alerts?.failureRate,
    failureMinRuns: config.alerts?.failureMinRuns,
    failureWindowMs: config.alerts?.failureWindowMs,
    timeoutMs: config.alerts?.timeoutMs,
    ...extra,
  })
}

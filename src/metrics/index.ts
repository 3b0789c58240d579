import { Elysia } from 'elysia'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { RunOutcome } from '../runs/outcome'
import type { JournalEntry } from '../runs/journal'
import type { DeliveryStats } from '../ws/connection'

/**
 * Prometheus metrics of one server (GET /metrics). Each server has its own registry, so several
 * servers in one process (tests) never collide; the process metrics (heap, RSS, event-loop lag,
 * GC) live in one registry per process and are merged into every server's output.
 *
 * Counters fed by hooks: runs, run duration, first-token latency, database writes, delivery lag,
 * circuit transitions, isolation-guard trips, alerts. Everything else is read when scraped from
 * the sources given to `observe()`: connections, delivery stats, active runs, persistence,
 * queue depths and circuit states of the model provider (each may be absent).
 */

/** Listens to circuit breaker state changes: `(host, from, to)`. */
export type CircuitListener = (host: string, from: string, to: string) => void

/**
 * The model provider as metrics and alerts observe it: typed getters read at scrape time and
 * one subscription for circuit changes (OllamaProvider, src/llm, has all of it).
 */
export interface ObservedLlm {
  /** Model requests waiting in the fair queue, per model. */
  depths(): Record<string, number>
  /** Circuit state per host: `closed`, `half_open` or `open`. */
  circuits(): Record<string, string>
  /** Calls `listener` on every circuit change of every host; returns the unsubscribe. */
  onCircuitChange(listener: CircuitListener): () => void
}

/** What `observe()` reads at scrape time; every part is optional. */
export interface MetricsSources {
  connections?: { readonly size: number; readonly users: number; readonly stats: DeliveryStats }
  runs?: {
    readonly active: { readonly size: number }
    readonly persister: { readonly failures: number; readonly pending: number }
  }
  database?: {
    readonly writes: { readonly pending: number }
    readonly checkpointer?: { readonly stats: { readonly checkpoints: number; readonly framesCopied: number } }
  }
  llm?: Pick<ObservedLlm, 'depths' | 'circuits'>
}

export type RunFinishedInfo = { runId: string; userId: string; durationMs: number; firstTokenMs?: number }

export const CIRCUIT_STATES = ['closed', 'half_open', 'open'] as const

let processRegistry: Registry | undefined
/** Default process metrics, collected once per process whatever the number of servers. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/** Reads a provider view without letting a provider mid-change break a scrape. */
function safely(read: (() => Record<string, unknown>) | undefined): [string, unknown][] {
  try {
    return read ? Object.entries(read()) : []
  } catch {
    return []
  }
}

export class Metrics {
  /** This server's own metrics (no process metrics). */
  readonly registry = new Registry()
  /** What GET /metrics serves: this server's metrics plus the process ones. */
  readonly #exposed: Registry
  #sources: MetricsSources = {}
  /** Circuit states learnt from the breaker's `onStateChange`, for providers with no sync view. */
  readonly #circuits = new Map<string, string>()

  readonly runs: Counter<'status' | 'agent'>
  readonly runsResumed: Counter
  readonly runFailures: Counter<'code'>
  readonly runDuration: Histogram<'status'>
  readonly firstToken: Histogram
  readonly dbWrite: Histogram
  readonly deliveryLag: Histogram
  readonly circuitTransitions: Counter<'host' | 'to'>
  readonly isolationGuard: Counter
  readonly alerts: Counter<'alert' | 'outcome'>
  readonly connectionsPeak: Gauge

  constructor(opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry]
    const sources = () => this.#sources

    const counter = <L extends string = never>(name: string, help: string, labelNames: L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers })
    const histogram = <L extends string = never>(name: string, help: string, buckets: number[], labelNames: L[] = []) =>
      new Histogram<L>({ name, help, buckets, labelNames, registers })

    // Fed by the hooks below.
    this.runs = counter('chat_runs_total', 'Runs finished, by final status and the agent that answered last.', [
      'status',
      'agent',
    ])
    this.runsResumed = counter(
      'chat_runs_resumed_total',
      'Runs continued after the process running them died (crash, kill -9, node loss).',
    )
    this.runFailures = counter('chat_run_failures_total', 'Failed runs by error code (llm_unavailable, timeout, …).', [
      'code',
    ])
    this.runDuration = histogram(
      'chat_run_duration_seconds',
      'Wall time of a run from acceptance to agent_completed.',
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      ['status'],
    )
    this.firstToken = histogram(
      'chat_run_first_token_seconds',
      'Time from run acceptance to the first streamed answer text.',
      [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    )
    this.dbWrite = histogram(
      'chat_db_write_duration_seconds',
      'Database write time including the wait in the in-process write queue.',
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    )
    this.deliveryLag = histogram(
      'chat_event_delivery_lag_seconds',
      'Time from a run event being appended to its journal to its hand-off to the owner’s open connections on this process.',
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    )
    this.circuitTransitions = counter(
      'chat_llm_circuit_transitions_total',
      'Circuit breaker state changes per Ollama host.',
      ['host', 'to'],
    )
    this.isolationGuard = counter(
      'chat_isolation_guard_trips_total',
      'Times code asked for the current user outside any user context (refused).',
    )
    this.connectionsPeak = new Gauge({
      name: 'chat_ws_connections_peak',
      help: 'Most WebSocket connections open at once since the server started.',
      registers,
    })
    this.alerts = counter(
      'chat_alerts_total',
      'Alerts raised, by kind and outcome (sent, suppressed by rate limit, failed, logged when no webhook is set).',
      ['alert', 'outcome'],
    )

    // Read at scrape time from the sources given to `observe()`. A `total` is a monotonic count
    // kept elsewhere, exported as a counter by adding what moved since the last scrape.
    const SCRAPED: { name: string; help: string; read: (s: MetricsSources) => number | undefined }[] = [
      {
        name: 'chat_ws_connections',
        help: 'Open authenticated WebSocket connections.',
        read: (s) => s.connections?.size,
      },
      {
        name: 'chat_ws_connected_users',
        help: 'Users with at least one open WebSocket connection.',
        read: (s) => s.connections?.users,
      },
      {
        name: 'chat_ws_events_delivered_total',
        help: 'Run events sent to WebSocket connections.',
        read: (s) => s.connections?.stats.sent,
      },
      {
        name: 'chat_ws_duplicates_dropped_total',
        help: 'Run events not sent because the connection already had them (resume overlap).',
        read: (s) => s.connections?.stats.duplicatesDropped,
      },
      {
        name: 'chat_ws_slow_connections_closed_total',
        help: 'Connections closed with 1013 because the client read too slowly.',
        read: (s) => s.connections?.stats.slowClosed,
      },
      {
        name: 'chat_ws_send_failures_total',
        help: 'WebSocket sends the runtime dropped.',
        read: (s) => s.connections?.stats.failed,
      },
      { name: 'chat_runs_active', help: 'Runs in progress on this process.', read: (s) => s.runs?.active.size },
      {
        name: 'chat_event_persist_pending',
        help: 'Run events waiting to be written to the database.',
        read: (s) => s.runs?.persister.pending,
      },
      {
        name: 'chat_event_persist_failures_total',
        help: 'Batches of run events that could not be written after retries.',
        read: (s) => s.runs?.persister.failures,
      },
      {
        name: 'chat_db_writes_pending',
        help: 'Writes queued or running in the in-process write queue.',
        read: (s) => s.database?.writes.pending,
      },
      {
        name: 'chat_db_wal_checkpoints_total',
        help: 'WAL checkpoints run by the checkpoint worker thread.',
        read: (s) => s.database?.checkpointer?.stats.checkpoints,
      },
      {
        name: 'chat_db_wal_frames_checkpointed_total',
        help: 'WAL frames (pages) the checkpoint worker copied back into the database file.',
        read: (s) => s.database?.checkpointer?.stats.framesCopied,
      },
    ]
    for (const { name, help, read } of SCRAPED) {
      if (name.endsWith('_total')) {
        let last = 0
        new Counter({
          name,
          help,
          registers,
          collect() {
            const value = read(sources())
            if (value === undefined) return
            if (value > last) this.inc(value - last)
            last = value
          },
        })
      } else {
        new Gauge({
          name,
          help,
          registers,
          collect() {
            const value = read(sources())
            if (value !== undefined) this.set(value)
          },
        })
      }
    }

    new Gauge({
      name: 'chat_llm_queue_depth',
      help: 'Model requests waiting in the fair queue, per model (when the provider exposes depths()).',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset()
        const llm = sources().llm
        for (const [model, depth] of safely(llm && (() => llm.depths())))
          if (typeof depth === 'number') this.set({ model }, depth)
      },
    })
    const circuits = this.#circuits
    new Gauge({
      name: 'chat_llm_circuit_state',
      help: 'Circuit breaker state per Ollama host: 1 for the current state, 0 for the others.',
      labelNames: ['host', 'state'],
      registers,
      collect() {
        this.reset()
        const llm = sources().llm
        const states = new Map<string, string>([
          ...circuits,
          ...(safely(llm && (() => llm.circuits())) as [string, string][]),
        ])
        for (const [host, current] of states) {
          for (const state of new Set<string>([...CIRCUIT_STATES, current]))
            this.set({ host, state }, state === current ? 1 : 0)
        }
      },
    })

    this.#exposed = opts.processMetrics === false ? this.registry : Registry.merge([this.registry, processMetrics()])
  }

  /** Tells the metrics where to read the scrape-time values. */
  observe(sources: MetricsSources): this {
    this.#sources = { ...this.#sources, ...sources }
    return this
  }

  /** RunManager's `onRunResumed`: a run continued after its process died. */
  runResumed(): void {
    this.runsResumed.inc()
  }

  /** RunManager's `onRunFinished`. Never throws. */
  runFinished(outcome: RunOutcome, run: RunFinishedInfo): void {
    try {
      this.runs.inc({ status: outcome.status, agent: outcome.agent })
      if (outcome.status === 'failed') this.runFailures.inc({ code: outcome.error?.code ?? 'unknown' })
      if (Number.isFinite(run.durationMs)) this.runDuration.observe({ status: outcome.status }, run.durationMs / 1000)
      if (typeof run.firstTokenMs === 'number' && Number.isFinite(run.firstTokenMs))
        this.firstToken.observe(run.firstTokenMs / 1000)
    } catch {}
  }

  /** `database.writes.onWrite`. */
  dbWriteFinished(ms: number): void {
    if (Number.isFinite(ms)) this.dbWrite.observe(ms / 1000)
  }

  /** wsRoutes' `onConnectionsChanged`: keeps the high-water mark (the current count is read at scrape time). */
  connectionsChanged(): void {
    const size = this.#sources.connections?.size
    if (size !== undefined && size > this.#peak) this.connectionsPeak.set((this.#peak = size))
  }
  #peak = 0

  /** A run event handed to the owner's connections (the bus subscriber). */
  eventDelivered(entry: JournalEntry): void {
    const appended = Date.parse(entry.event.ts)
    if (Number.isFinite(appended)) this.deliveryLag.observe(Math.max(0, Date.now() - appended) / 1000)
  }

  /** The provider's `onCircuitChange(host, from, to)`. */
  circuitChanged(host: string, _from: string, to: string): void {
    this.#circuits.set(host, to)
    this.circuitTransitions.inc({ host, to })
  }

  isolationGuardTripped(): void {
    this.isolationGuard.inc()
  }

  alertRaised(alert: string, outcome: 'sent' | 'suppressed' | 'failed' | 'logged'): void {
    this.alerts.inc({ alert, outcome })
  }

  get contentType(): string {
    return this.#exposed.contentType
  }

  /** The Prometheus text exposition of everything. */
  scrape(): Promise<string> {
    return this.#exposed.metrics()
  }
}

export function createMetrics(opts?: { processMetrics?: boolean }): Metrics {
  return new Metrics(opts)
}

/** GET /metrics: Prometheus text format, no auth (restrict it at the proxy; see docs/operations.md). */
export function metricsRoutes(metrics: Metrics) {
  return new Elysia({ name: 'metrics' }).get('/metrics', async () => {
    const body = await metrics.scrape()
    return new Response(body, { headers: { 'content-type': metrics.contentType, 'cache-control': 'no-store' } })
  })
}

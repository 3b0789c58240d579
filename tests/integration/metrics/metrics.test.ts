/**
 * GET /metrics (PROTOCOL.md §2): Prometheus text format, parsed with a real text-format parser
 * (parse-prometheus-text-format, a port of the Prometheus Python client's parser), after real
 * chats over WebSockets against the scripted Ollama.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { startTestServer, type TestServer } from '../../support/server'
import { Metrics, type CircuitListener, type ObservedLlm } from '../../../src/metrics'
import { useChatStack } from '../../support/fixtures'

setDefaultTimeout(30_000) // real servers and sockets on a shared 2-core machine

interface Sample {
  value?: string
  labels?: Record<string, string>
  buckets?: Record<string, string>
  count?: string
  sum?: string
}
interface Family {
  name: string
  help: string
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'
  metrics: Sample[]
}

/** The families of an exposition, by name. */
class Scrape {
  readonly families = new Map<string, Family>()
  /** Every series by its own name (`x_bucket`, `x_sum`, `x_count` apart), labels kept. */
  readonly series = new Map<string, Family>()
  constructor(readonly text: string) {
    for (const family of parsePrometheusTextFormat(text) as Family[]) this.families.set(family.name, family)
    // The parser folds all series of a histogram into one object and drops their labels
    // (upstream issue yunyu/parse-prometheus-text-format#13). Parsed again without the TYPE
    // lines, each _bucket/_sum/_count series comes out as its own family with its labels.
    const untyped = text
      .split('\n')
      .filter((line) => !line.startsWith('# TYPE '))
      .join('\n')
    for (const family of parsePrometheusTextFormat(untyped) as Family[]) {
      // Interleaved series (x_bucket, x_sum, x_count per label set) come back as repeated families.
      const seen = this.series.get(family.name)
      if (seen) seen.metrics.push(...family.metrics)
      else this.series.set(family.name, family)
    }
  }
  family(name: string): Family {
    const family = this.families.get(name)
    if (!family) throw new Error(`no metric family ${name}; have: ${[...this.families.keys()].join(', ')}`)
    return family
  }
  /** The sample whose labels include `labels` (undefined when none). */
  sample(name: string, labels: Record<string, string> = {}): Sample | undefined {
    return this.family(name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  }
  /** A counter or gauge value; 0 when the labelled series does not exist yet. */
  value(name: string, labels: Record<string, string> = {}): number {
    const sample = this.sample(name, labels)
    return sample ? Number(sample.value) : 0
  }
  /** A histogram's count, sum and cumulative buckets for one label set (zeros when absent). */
  histogram(
    name: string,
    labels: Record<string, string> = {},
  ): { count: number; sum: number; buckets: Record<string, number> } {
    expect(this.family(name).type).toBe('HISTOGRAM')
    const matches = (m: Sample) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
    const one = (suffix: string) => this.series.get(name + suffix)?.metrics.find(matches)
    const count = one('_count')
    if (!count) return { count: 0, sum: 0, buckets: {} }
    const buckets: Record<string, number> = {}
    for (const m of this.series.get(name + '_bucket')?.metrics ?? [])
      if (matches(m) && m.labels?.le) buckets[m.labels.le] = Number(m.value)
    return { count: Number(count.value), sum: Number(one('_sum')?.value), buckets }
  }
}

async function scrape(server: Pick<TestServer, 'api'>): Promise<Scrape> {
  const res = await server.api('/metrics')
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
  return new Scrape(await res.text())
}

/** Waits until `check` holds on a fresh scrape (collect-time gauges follow closes asynchronously). */
async function scrapeUntil(
  server: Pick<TestServer, 'api'>,
  check: (s: Scrape) => boolean,
  what: string,
): Promise<Scrape> {
  const deadline = Date.now() + 5000
  for (;;) {
    const s = await scrape(server)
    if (check(s)) return s
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(25)
  }
}

const stack = useChatStack()

describe('GET /metrics', () => {
  test('is served without auth, parses as Prometheus text, and every family has help and type', async () => {
    const s = await scrape(stack.server)
    expect(s.families.size).toBeGreaterThan(20)
    for (const family of s.families.values()) {
      expect(family.help.length).toBeGreaterThan(0)
      expect(['COUNTER', 'GAUGE', 'HISTOGRAM', 'SUMMARY']).toContain(family.type)
    }
    expect(s.family('chat_runs_total').type).toBe('COUNTER')
    expect(s.family('chat_run_duration_seconds').type).toBe('HISTOGRAM')
    expect(s.family('chat_db_write_duration_seconds').type).toBe('HISTOGRAM')
    expect(s.family('chat_ws_connections').type).toBe('GAUGE')
    // Default process metrics: heap, RSS, event-loop lag.
    expect(s.value('process_resident_memory_bytes')).toBeGreaterThan(1024 * 1024)
    expect(s.value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0)
    expect(s.family('nodejs_eventloop_lag_seconds').type).toBe('GAUGE')
  })

  test('counts runs by status and agent, connections, delivered events and database writes after real chats', async () => {
    const before = await scrape(stack.server)
    const completedBefore = before.value('chat_runs_total', { status: 'completed', agent: 'triage' })
    const failedBefore = before.value('chat_runs_total', { status: 'failed', agent: 'triage' })
    const llmErrorsBefore = before.value('chat_run_failures_total', { code: 'llm_error' })
    const durationsBefore = before.histogram('chat_run_duration_seconds', { status: 'completed' }).count
    const firstTokensBefore = before.histogram('chat_run_first_token_seconds').count
    const writesBefore = before.histogram('chat_db_write_duration_seconds').count
    const deliveredBefore = before.value('chat_ws_events_delivered_total')

    const alice = await stack.userWithSocket('alice')
    const bob = await stack.userWithSocket('bob')
    const during = await scrape(stack.server)
    expect(during.value('chat_ws_connections')).toBe(2)
    expect(during.value('chat_ws_connected_users')).toBe(2)

    // Two completed runs and one that the model fails with an HTTP 500.
    const a = await alice.ws.chat('hello from alice')
    await alice.ws.completion(a.runId)
    const b = await bob.ws.chat('hello from bob')
    await bob.ws.completion(b.runId)
    stack.ollama.enqueue({ httpError: 500, message: 'model exploded' })
    const c = await alice.ws.chat('this one fails')
    const failed = (await alice.ws.completion(c.runId)).at(-1)!
    expect(failed.status).toBe('failed')
    expect(failed.error.code).toBe('llm_error')

    const after = await scrape(stack.server)
    expect(after.value('chat_runs_total', { status: 'completed', agent: 'triage' }) - completedBefore).toBe(2)
    expect(after.value('chat_runs_total', { status: 'failed', agent: 'triage' }) - failedBefore).toBe(1)
    expect(after.value('chat_run_failures_total', { code: 'llm_error' }) - llmErrorsBefore).toBe(1)
    expect(after.value('chat_runs_active')).toBe(0)

    const durations = after.histogram('chat_run_duration_seconds', { status: 'completed' })
    expect(durations.count - durationsBefore).toBe(2)
    expect(durations.sum).toBeGreaterThan(0)
    expect(durations.buckets['+Inf']).toBe(durations.count)
    // Both completed runs streamed text; the failed one streamed none.
    expect(after.histogram('chat_run_first_token_seconds').count - firstTokensBefore).toBe(2)

    // Every frame the two sockets received was counted as delivered, and nothing else.
    const received = alice.ws.frames.length + bob.ws.frames.length
    expect(after.value('chat_ws_events_delivered_total') - deliveredBefore).toBe(received)
    expect(after.value('chat_ws_send_failures_total')).toBe(0)
    expect(after.value('chat_ws_slow_connections_closed_total')).toBe(0)
    expect(after.histogram('chat_event_delivery_lag_seconds').count).toBeGreaterThanOrEqual(
      alice.ws.eventsOf(a.runId).length,
    )

    // Registering users, creating threads, storing messages and events all went through the write queue.
    const writes = after.histogram('chat_db_write_duration_seconds')
    expect(writes.count - writesBefore).toBeGreaterThan(0)
    expect(writes.sum).toBeGreaterThan(0)
    expect(after.value('chat_event_persist_failures_total')).toBe(0)
    expect(after.value('chat_ws_connections_peak')).toBeGreaterThanOrEqual(2)

    // A closed socket leaves the gauges at the next scrape.
    bob.ws.close()
    const closed = await scrapeUntil(
      stack.server,
      (s) => s.value('chat_ws_connections') === 1,
      'the connection gauge to drop',
    )
    expect(closed.value('chat_ws_connected_users')).toBe(1)
    expect(closed.value('chat_ws_connections_peak')).toBeGreaterThanOrEqual(2)
  })

  test('two servers in one process keep separate registries', async () => {
    const other = await startTestServer()
    try {
      const mine = await scrape(stack.server)
      const theirs = await scrape(other)
      expect(mine.value('chat_runs_total', { status: 'completed', agent: 'triage' })).toBeGreaterThan(0)
      expect(theirs.family('chat_runs_total').metrics).toHaveLength(0)
      expect(theirs.value('chat_ws_connections')).toBe(0)
    } finally {
      await other.close()
    }
  })
})

describe('model provider metrics (queue depth, circuit state)', () => {
  /** A provider shaped like the fair scheduler + host breakers of src/llm. */
  function fakeProvider() {
    const listeners = new Set<CircuitListener>()
    const states: Record<string, string> = { 'http://a:11434': 'closed', 'http://b:11434': 'closed' }
    return {
      states,
      depths: () => ({ 'llama3.2': 3, qwen3: 1 }),
      circuits: () => ({ ...states }),
      onCircuitChange(listener: CircuitListener) {
        listeners.add(listener)
        return () => void listeners.delete(listener)
      },
      change(host: string, to: string) {
        const from = states[host]
        states[host] = to
        for (const l of listeners) l(host, from, to)
      },
    }
  }

  test('are read at scrape time when the provider exposes them, and state changes are counted', async () => {
    const llm = fakeProvider()
    const metrics = new Metrics({ processMetrics: false }).observe({ llm })
    const off = llm.onCircuitChange((host, from, to) => metrics.circuitChanged(host, from, to))
    llm.change('http://b:11434', 'open')

    const s = new Scrape(await metrics.scrape())
    expect(s.value('chat_llm_queue_depth', { model: 'llama3.2' })).toBe(3)
    expect(s.value('chat_llm_queue_depth', { model: 'qwen3' })).toBe(1)
    expect(s.value('chat_llm_circuit_state', { host: 'http://a:11434', state: 'closed' })).toBe(1)
    expect(s.value('chat_llm_circuit_state', { host: 'http://a:11434', state: 'open' })).toBe(0)
    expect(s.value('chat_llm_circuit_state', { host: 'http://b:11434', state: 'open' })).toBe(1)
    expect(s.value('chat_llm_circuit_state', { host: 'http://b:11434', state: 'closed' })).toBe(0)
    expect(s.value('chat_llm_circuit_transitions_total', { host: 'http://b:11434', to: 'open' })).toBe(1)
    // Process metrics were left out on request.
    expect(s.families.has('process_resident_memory_bytes')).toBe(false)

    off()
    llm.change('http://b:11434', 'half_open')
    const later = new Scrape(await metrics.scrape())
    expect(later.value('chat_llm_circuit_state', { host: 'http://b:11434', state: 'half_open' })).toBe(1)
    expect(later.value('chat_llm_circuit_transitions_total', { host: 'http://b:11434', to: 'half_open' })).toBe(0)
  })

  test('a provider with no queue and no hosts, or one that throws mid-change, yields no series and no error', async () => {
    const empty: ObservedLlm = { depths: () => ({}), circuits: () => ({}), onCircuitChange: () => () => {} }
    const metrics = new Metrics({ processMetrics: false }).observe({ llm: empty })
    const s = new Scrape(await metrics.scrape())
    expect(s.family('chat_llm_queue_depth').metrics).toHaveLength(0)
    expect(s.family('chat_llm_circuit_state').metrics).toHaveLength(0)
    const broken = new Metrics({ processMetrics: false }).observe({
      llm: {
        depths: () => {
          throw new Error('changing')
        },
        circuits: () => {
          throw new Error('changing')
        },
      },
    })
    const b = new Scrape(await broken.scrape())
    expect(b.family('chat_llm_queue_depth').metrics).toHaveLength(0)
    expect(b.family('chat_llm_circuit_state').metrics).toHaveLength(0)
  })
})

/**
 * Alerts (docs/operations.md "Alerts"): a local webhook receiver gets a JSON POST when runs fail
 * above the threshold (Ollama down → llm_unavailable), when the isolation guard trips, when
 * event persistence fails and when a circuit opens; one alert kind is sent at most once per
 * ALERT_MIN_INTERVAL_MS; a slow or broken webhook never blocks or throws.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Server } from 'bun'
import { startTestServer, type TestServer } from '../../support/server'
import { registerUser } from '../../support/users'
import { WsClient } from '../../support/ws-client'
import { currentUser, MissingUserContextError } from '../../../src/context/user-context'
import { Alerts, type AlertPayload } from '../../../src/alerts'

setDefaultTimeout(30_000) // real servers and sockets on a shared 2-core machine

interface Received {
  body: AlertPayload
  contentType: string | null
}

/** A webhook receiver on 127.0.0.1:0 that records every POST. */
function startReceiver(opts: { status?: number; delayMs?: number } = {}) {
  const received: Received[] = []
  const server: Server<undefined> = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      if (opts.delayMs) await Bun.sleep(opts.delayMs)
      received.push({ body: (await req.json()) as AlertPayload, contentType: req.headers.get('content-type') })
      return new Response(null, { status: opts.status ?? 204 })
    },
  })
  const of = (alert: string) => received.filter((r) => r.body.alert === alert)
  return {
    url: `http://127.0.0.1:${server.port}/hooks/alerts`,
    received,
    of,
    async waitFor(alert: string, count = 1, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      while (of(alert).length < count) {
        if (Date.now() > deadline)
          throw new Error(`no ${alert} alert arrived; got ${JSON.stringify(received.map((r) => r.body.alert))}`)
        await Bun.sleep(10)
      }
      return of(alert)
    },
    stop: () => server.stop(true),
  }
}

function expectPayloadShape(r: Received) {
  expect(r.contentType).toContain('application/json')
  expect(Object.keys(r.body).sort()).toEqual(['alert', 'at', 'details', 'message', 'severity'])
  expect(['warning', 'critical']).toContain(r.body.severity)
  expect(r.body.message.length).toBeGreaterThan(10)
  expect(typeof r.body.details).toBe('object')
  expect(Math.abs(Date.parse(r.body.at) - Date.now())).toBeLessThan(60_000)
}

describe('a server whose Ollama is down', () => {
  let receiver: ReturnType<typeof startReceiver>
  let server: TestServer
  let ws: WsClient

  beforeAll(async () => {
    receiver = startReceiver()
    server = await startTestServer({
      // Nothing listens on port 9: every run fails with llm_unavailable.
      OLLAMA_HOST: 'http://127.0.0.1:9',
      ALERT_WEBHOOK_URL: receiver.url,
      ALERT_MIN_INTERVAL_MS: '60000',
      ALERT_FAILURE_RATE: '0.5',
      ALERT_FAILURE_MIN_RUNS: '4',
    })
    const user = await registerUser(server, 'alerts')
    ws = await WsClient.connect(server.wsUrl, user.accessToken)
  })
  afterAll(async () => {
    ws?.close()
    await server?.close()
    receiver?.stop()
  })

  async function failingRun() {
    const { runId } = await ws.chat('hello?')
    const done = (await ws.completion(runId)).at(-1)!
    expect(done.status).toBe('failed')
    expect(done.error.code).toBe('llm_unavailable')
  }

  test('the failure-rate alert fires once the window holds enough runs, and only once per interval', async () => {
    for (let i = 0; i < 3; i++) await failingRun()
    await server.runtime.alerts.flush()
    // Three runs are below ALERT_FAILURE_MIN_RUNS: nothing yet.
    expect(receiver.of('run_failure_rate')).toHaveLength(0)

    await failingRun()
    const [alert] = await receiver.waitFor('run_failure_rate')
    expectPayloadShape(alert)
    expect(alert.body.severity).toBe('critical')
    expect(alert.body.details).toMatchObject({
      failed: 4,
      total: 4,
      rate: 1,
      threshold: 0.5,
      lastError: 'llm_unavailable',
    })
    expect(alert.body.message).toContain('4 of the last 4 runs failed')

    // A second burst within the interval sends nothing more.
    for (let i = 0; i < 4; i++) await failingRun()
    await server.runtime.alerts.flush()
    await Bun.sleep(100)
    expect(receiver.of('run_failure_rate')).toHaveLength(1)
    expect(server.runtime.alerts.failureWindow()).toEqual({ total: 8, failed: 8 })
    const counted = (await server.runtime.metrics.alerts.get()).values.filter(
      (v) => v.labels.alert === 'run_failure_rate',
    )
    expect(counted.find((v) => v.labels.outcome === 'suppressed')?.value).toBe(4)
    expect(counted.find((v) => v.labels.outcome === 'sent')?.value).toBe(1)
  })

  test("the circuit_open alert fires when a host's circuit opens", async () => {
    // Eight failed calls to one host open its circuit.
    const [alert] = await receiver.waitFor('circuit_open')
    expectPayloadShape(alert)
    expect(alert.body.details.host).toBe('http://127.0.0.1:9')
  })

  test('the isolation guard alerts with where it tripped, once per interval', async () => {
    await server.runtime.alerts.flush()
    // Normal runs never asked for the user outside a context.
    expect(receiver.of('isolation_guard')).toHaveLength(0)

    expect(() => currentUser()).toThrow(MissingUserContextError)
    const [alert] = await receiver.waitFor('isolation_guard')
    expectPayloadShape(alert)
    expect(alert.body.severity).toBe('critical')
    expect((alert.body.details.stack as string[]).some((line) => line.includes('webhook.test.ts'))).toBe(true)

    expect(() => currentUser()).toThrow(MissingUserContextError)
    expect(() => currentUser()).toThrow(MissingUserContextError)
    await server.runtime.alerts.flush()
    await Bun.sleep(100)
    expect(receiver.of('isolation_guard')).toHaveLength(1)
    // Every trip is still counted.
    expect((await server.runtime.metrics.isolationGuard.get()).values[0].value).toBe(3)
  })

  test('growing persistence failures alert after the next run', async () => {
    expect(receiver.of('event_persistence_failed')).toHaveLength(0)
    server.runtime.runs.persister.failures += 2 // as if two batches had failed their retries
    await failingRun()
    const [alert] = await receiver.waitFor('event_persistence_failed')
    expectPayloadShape(alert)
    expect(alert.body.details).toMatchObject({ newFailures: 2, totalFailures: 2 })
  })

  test('the alerts stop with the server', async () => {
    const other = startReceiver()
    const second = await startTestServer({ ALERT_WEBHOOK_URL: other.url, ALERT_MIN_INTERVAL_MS: '0' })
    await second.close()
    expect(() => currentUser()).toThrow(MissingUserContextError)
    await Bun.sleep(100)
    expect(other.received).toHaveLength(0)
    other.stop()
  })
})

describe('the notifier itself', () => {
  let receiver: ReturnType<typeof startReceiver>
  beforeAll(() => {
    receiver = startReceiver()
  })
  afterAll(() => receiver.stop())

  test('rate limits per kind, not across kinds, and reports what was suppressed', async () => {
    let now = 1_000_000
    const alerts = new Alerts({ webhookUrl: receiver.url, minIntervalMs: 60_000, now: () => now })
    expect(alerts.raise('circuit_open', 'warning', 'circuit opened for host a')).toBe(true)
    expect(alerts.raise('circuit_open', 'warning', 'circuit opened for host b')).toBe(false)
    expect(alerts.raise('isolation_guard', 'critical', 'guard tripped somewhere')).toBe(true)
    now += 59_999
    expect(alerts.raise('circuit_open', 'warning', 'circuit opened for host c')).toBe(false)
    now += 1
    expect(alerts.raise('circuit_open', 'warning', 'circuit opened for host d', { host: 'd' })).toBe(true)
    await alerts.flush()
    const circuit = receiver.of('circuit_open').map((r) => r.body)
    expect(circuit.map((b) => b.message)).toEqual(['circuit opened for host a', 'circuit opened for host d'])
    expect(circuit[1].details).toEqual({ host: 'd', suppressedSinceLast: 2 })
    expect(circuit[1].at).toBe(new Date(now).toISOString())
    expect(receiver.of('isolation_guard')).toHaveLength(1)
    alerts.close()
  })

  test('circuit state changes alert only on opening', async () => {
    const alerts = new Alerts({ webhookUrl: receiver.url, minIntervalMs: 0 })
    const before = receiver.of('circuit_open').length
    alerts.circuitStateChanged('http://gpu-1:11434', 'closed', 'half_open')
    alerts.circuitStateChanged('http://gpu-1:11434', 'half_open', 'closed')
    alerts.circuitStateChanged('http://user:secret@gpu-1:11434', 'half_open', 'open')
    await alerts.flush()
    const opened = receiver.of('circuit_open').slice(before)
    expect(opened).toHaveLength(1)
    expect(opened[0].body.details).toEqual({ host: 'http://***:***@gpu-1:11434', from: 'half_open' })
    expect(JSON.stringify(opened[0].body)).not.toContain('secret')
  })

  test('persister failures are polled cheaply', async () => {
    const alerts = new Alerts({ webhookUrl: receiver.url, minIntervalMs: 0, pollMs: 20 })
    const persister = { failures: 5 } // failures before watching are old news
    alerts.watchPersister(persister)
    await Bun.sleep(60)
    expect(receiver.of('event_persistence_failed')).toHaveLength(0)
    persister.failures = 6
    const [alert] = await receiver.waitFor('event_persistence_failed', 1, 2000)
    expect(alert.body.details).toEqual({ newFailures: 1, totalFailures: 6 })
    alerts.close()
    persister.failures = 9
    await Bun.sleep(60)
    expect(receiver.of('event_persistence_failed')).toHaveLength(1)
  })

  test('cancelled runs do not count, and the rate must be above the threshold', () => {
    const raised: string[] = []
    const spy = new Alerts({ minIntervalMs: 0, failureRate: 0.5, failureMinRuns: 4, onAlert: (a) => raised.push(a) })
    spy.runFinished({ status: 'completed' })
    spy.runFinished({ status: 'completed' })
    spy.runFinished({ status: 'cancelled' })
    spy.runFinished({ status: 'failed', error: { code: 'llm_error', message: 'x' } })
    spy.runFinished({ status: 'failed', error: { code: 'llm_error', message: 'x' } })
    // 2 of 4 is exactly the threshold, not above it.
    expect(spy.failureWindow()).toEqual({ total: 4, failed: 2 })
    expect(raised).toEqual([])
    spy.runFinished({ status: 'failed', error: { code: 'llm_error', message: 'x' } })
    expect(raised).toEqual(['run_failure_rate'])
  })

  test('old runs leave the sliding window', () => {
    let now = 0
    const raised: string[] = []
    const alerts = new Alerts({
      minIntervalMs: 0,
      failureMinRuns: 3,
      failureWindowMs: 1000,
      now: () => now,
      onAlert: (a) => raised.push(a),
    })
    alerts.runFinished({ status: 'failed' })
    alerts.runFinished({ status: 'failed' })
    now = 1500
    alerts.runFinished({ status: 'failed' })
    expect(alerts.failureWindow()).toEqual({ total: 1, failed: 1 })
    expect(raised).toEqual([])
  })

  test('a hanging webhook neither blocks nor throws: the POST is abandoned after the timeout', async () => {
    const slow = startReceiver({ delayMs: 5_000 })
    const outcomes: string[] = []
    const alerts = new Alerts({ webhookUrl: slow.url, timeoutMs: 200, onAlert: (_a, o) => outcomes.push(o) })
    // raise() answers at once (a plain true, not a promise that waits for the POST)…
    expect(alerts.raise('run_failure_rate', 'critical', 'many runs failed')).toBe(true)
    expect(outcomes).toEqual([])
    // …and the POST is given up at the timeout: a receiver that answers after 5 s would have made it 'sent'.
    await alerts.flush()
    expect(outcomes).toEqual(['failed'])
    slow.stop()
  })

  test('a failing or unreachable webhook is reported as failed, never thrown', async () => {
    const broken = startReceiver({ status: 500 })
    const outcomes: string[] = []
    const alerts = new Alerts({ webhookUrl: broken.url, minIntervalMs: 0, onAlert: (_a, o) => outcomes.push(o) })
    alerts.raise('isolation_guard', 'critical', 'guard tripped in a test')
    await alerts.flush()
    expect(broken.received).toHaveLength(1)
    broken.stop()
    const nowhere = new Alerts({
      webhookUrl: 'http://127.0.0.1:9/hook',
      minIntervalMs: 0,
      onAlert: (_a, o) => outcomes.push(o),
    })
    expect(() => nowhere.raise('isolation_guard', 'critical', 'guard tripped in a test')).not.toThrow()
    await nowhere.flush()
    expect(outcomes).toEqual(['failed', 'failed'])
  })

  test('without a webhook the alert is only logged (still rate limited)', () => {
    const outcomes: string[] = []
    const alerts = new Alerts({ onAlert: (_a, o) => outcomes.push(o) })
    expect(alerts.raise('circuit_open', 'warning', 'circuit opened for host a')).toBe(true)
    expect(alerts.raise('circuit_open', 'warning', 'circuit opened for host a')).toBe(false)
    expect(outcomes).toEqual(['logged', 'suppressed'])
  })
})

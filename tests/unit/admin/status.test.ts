/** The admin status board reads the metrics registry: live figures, per-step history, alerts. */
import { test, expect } from 'bun:test'
import { createMetrics } from '../../../src/metrics'
import { statusBoard } from '../../../src/admin/status'

const outcome = (status: 'completed' | 'failed') =>
  ({
    status,
    content: '',
    agent: 'triage',
    usage: { promptTokens: 0, completionTokens: 0, steps: 1 },
    ...(status === 'failed' && { error: { code: 'timeout', message: 'x' } }),
  }) as any

test('failure rate and first-token latency per step come from the run counters and histogram', async () => {
  const metrics = createMetrics({ processMetrics: false })
  let clock = Date.parse('2026-06-01T12:00:00Z')
  const board = statusBoard(metrics.registry, { stepMs: 3_600_000, now: () => clock })
  try {
    await Bun.sleep(0)
    const empty = await board.snapshot()
    expect(empty.lastHour).toEqual({ runsFinished: 0, failureRate: null, firstTokenSeconds: null })
    metrics.runFinished(outcome('completed'), { runId: 'a', userId: 'u', durationMs: 1000, firstTokenMs: 200 })
    metrics.runFinished(outcome('completed'), { runId: 'b', userId: 'u', durationMs: 1000, firstTokenMs: 400 })
    metrics.runFinished(outcome('failed'), { runId: 'c', userId: 'u', durationMs: 1000 })
    metrics.runFinished(outcome('failed'), { runId: 'd', userId: 'u', durationMs: 1000 })
    clock += 1000
    board.alertRaised('circuit_open', 'logged')
    const snap = await board.snapshot()
    expect(snap.lastHour.runsFinished).toBe(4)
    expect(snap.lastHour.failureRate).toBe(0.5)
    expect(snap.lastHour.firstTokenSeconds).toBeCloseTo(0.3, 5)
    expect(snap.series.at(-1)).toMatchObject({ failureRate: 0.5, runsActive: 0, queueDepth: 0 })
    expect(snap.alerts).toEqual([{ at: new Date(clock).toISOString(), alert: 'circuit_open', outcome: 'logged' }])
  } finally {
    board.close()
  }
})

test('circuit states per host are the ones the metrics export', async () => {
  const metrics = createMetrics({ processMetrics: false })
  metrics.circuitChanged('http://gpu-1:11434', 'closed', 'open')
  metrics.circuitChanged('http://gpu-2:11434', 'open', 'closed')
  const board = statusBoard(metrics.registry)
  try {
    const snap = await board.snapshot()
    expect(snap.hosts.sort((a, b) => a.host.localeCompare(b.host))).toEqual([
      { host: 'http://gpu-1:11434', state: 'open' },
      { host: 'http://gpu-2:11434', state: 'closed' },
    ])
  } finally {
    board.close()
  }
})

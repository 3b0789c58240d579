/**
 * The run stream (src/web/client/run-stream.ts) on its own, with a recorded `send` in place of
 * a socket: resume only when open, following a run known from elsewhere, forgetting a run the
 * server no longer has, and the HTTP fallback stopping when the socket is back.
 */
import { describe, expect, test } from 'bun:test'
import type { ClientFrame, RunEvent } from '../../../src/protocol'
import { RunStream } from '../../../src/web/client/run-stream'

const ev = (seq: number, extra: Record<string, unknown> = {}): RunEvent =>
  ({
    type: 'message_delta',
    delta: `d${seq}`,
    runId: 'run1',
    threadId: 't1',
    seq,
    ts: new Date(0).toISOString(),
    agent: 'triage',
    ...extra,
  }) as RunEvent

function stream(opts: { open?: boolean; fetchEvents?: (runId: string, after: number) => Promise<any> } = {}) {
  const sent: ClientFrame[] = []
  const saved: Record<string, string>[] = []
  const polling: boolean[] = []
  let open = opts.open ?? true
  const s = new RunStream({
    send: (frame) => {
      if (!open) return false
      sent.push(frame)
      return true
    },
    isOpen: () => open,
    fetchEvents: opts.fetchEvents,
    activeRuns: { save: (runs) => saved.push(runs) },
    pollIntervalMs: 5,
    gapFillDelayMs: 5,
    onPollingChange: (p) => polling.push(p),
  })
  const events: RunEvent[] = []
  s.onEvent((e) => events.push(e))
  return { s, sent, saved, polling, events, setOpen: (v: boolean) => (open = v) }
}

async function until(cond: () => boolean, ms = 3000) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await Bun.sleep(2)
  }
}

describe('RunStream', () => {
  test('a run known from elsewhere is resumed from the start when open, and remembered', () => {
    const { s, sent, saved } = stream()
    s.track('r9', 't9')
    s.track('r9', 't9') // once only
    expect(sent).toEqual([{ type: 'resume', runId: 'r9', afterSeq: 0 }])
    expect(saved.at(-1)).toEqual({ r9: 't9' })
    expect(s.activeRunsOf('t9').map((r) => r.runId)).toEqual(['r9'])
  })

  test('resumeAll asks for every unfinished run after its last seq; finished runs are left', () => {
    const { s, sent, events } = stream()
    s.deliver(ev(1))
    s.deliver(ev(2))
    s.deliver(ev(1, { runId: 'done', type: 'agent_completed', status: 'completed', message: { id: 'm', content: '' } }))
    sent.length = 0
    s.resumeAll()
    expect(sent).toEqual([{ type: 'resume', runId: 'run1', afterSeq: 2 }])
    // The replay overlaps: nothing comes out twice.
    for (const seq of [1, 2, 3]) s.deliver(ev(seq))
    expect(events.filter((e) => e.runId === 'run1').map((e) => e.seq)).toEqual([1, 2, 3])
  })

  test('a run the server no longer has is forgotten', () => {
    const { s, saved } = stream()
    s.deliver(ev(1))
    expect(saved.at(-1)).toEqual({ run1: 't1' })
    s.gone('run1')
    expect(s.runs.get('run1')).toBeUndefined()
    expect(saved.at(-1)).toEqual({})
  })

  test('HTTP polling follows unfinished runs until they end, and stops when told', async () => {
    const calls: number[] = []
    const { s, polling, events } = stream({
      open: false,
      fetchEvents: async (runId, after) => {
        calls.push(after)
        if (runId !== 'run1') return { events: [], done: false }
        if (after === 1) return { events: [ev(2)], done: false }
        if (after === 2)
          return {
            events: [ev(3, { type: 'agent_completed', status: 'completed', message: { id: 'm', content: '' } })],
            done: true,
          }
        return { events: [], done: false }
      },
    })
    s.deliver(ev(1))
    s.startPolling()
    expect(s.polling).toBe(true)
    await until(() => !s.polling)
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3])
    expect(calls.slice(0, 2)).toEqual([1, 2])
    expect(polling).toEqual([true, false])

    // With a run still going, polling goes on until the socket is back (resumeAll stops it).
    s.deliver(ev(1, { runId: 'r2' }))
    s.startPolling()
    await until(() => calls.length >= 4)
    s.resumeAll()
    expect(s.polling).toBe(false)
    expect(polling).toEqual([true, false, true, false])
    s.dispose()
  })
})

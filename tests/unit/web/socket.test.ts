/**
 * The browser's protocol client (src/web/client/socket.ts) against a scripted WebSocket: auth
 * first, resume after reconnect, seq de-duplication and ordering, in-band token refresh,
 * backoff, and the HTTP polling fallback.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { ChatSocket, type ChatSocketOptions, SocketRequestError } from '../../../src/web/client/socket'
import { RunSequencer } from '../../../src/web/client/runs'
import { CLOSE_CODES } from '../../../src/protocol'
import type { RunEvent } from '../../../src/web/client/types'

class FakeWS {
  static all: FakeWS[] = []
  readyState = 0
  sent: any[] = []
  closedWith: number | undefined
  onopen: ((ev: any) => void) | null = null
  onmessage: ((ev: { data: any }) => void) | null = null
  onclose: ((ev: { code: number }) => void) | null = null
  onerror: ((ev: any) => void) | null = null
  constructor(readonly url: string) {
    FakeWS.all.push(this)
  }
  send(data: string) {
    this.sent.push(JSON.parse(data))
  }
  close(code = 1000) {
    this.closedWith = code
    this.readyState = 3
  }
  // ---- the "server" side ----
  open() {
    this.readyState = 1
    this.onopen?.({})
  }
  receive(frame: object) {
    this.onmessage?.({ data: JSON.stringify(frame) })
  }
  ready() {
    this.receive({ type: 'ready', userId: 'u1', connectionId: `c${FakeWS.all.indexOf(this)}` })
  }
  drop(code = 1006) {
    this.readyState = 3
    this.onclose?.({ code })
  }
  types() {
    return this.sent.map((f) => f.type)
  }
}

const live: ChatSocket[] = []
afterEach(() => {
  for (const s of live.splice(0)) s.stop()
  FakeWS.all = []
})

function client(opts: Partial<ChatSocketOptions> = {}) {
  const events: RunEvent[] = []
  const socket = new ChatSocket({
    url: 'ws://test/ws',
    getToken: async () => 'token-1',
    refreshToken: async () => 'token-refreshed',
    WebSocket: FakeWS as any,
    backoffInitialMs: 10,
    backoffMaxMs: 80,
    gapFillDelayMs: 10,
    random: () => 0.5,
    ...opts,
  })
  socket.onEvent((e) => events.push(e))
  live.push(socket)
  return { socket, events }
}

async function until(cond: () => boolean, ms = 2000) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await Bun.sleep(2)
  }
}

/** Starts the client and brings its (next) socket to `ready`. */
async function connect(socket: ChatSocket, index = FakeWS.all.length) {
  if (socket.status === 'idle') socket.start()
  await until(() => FakeWS.all.length > index)
  const ws = FakeWS.all[index]
  ws.open()
  ws.ready()
  return ws
}

const ev = (seq: number, extra: Partial<RunEvent> & Record<string, unknown> = {}): RunEvent =>
  ({
    type: 'message_delta',
    delta: `d${seq}`,
    runId: 'run1',
    threadId: 't1',
    seq,
    ts: new Date().toISOString(),
    agent: 'triage',
    ...extra,
  }) as RunEvent

describe('RunSequencer', () => {
  test('delivers in seq order, drops duplicates, waits behind gaps', () => {
    const s = new RunSequencer()
    const seqs = (list: RunEvent[]) => list.map((e) => e.seq)
    expect(seqs(s.accept(ev(1)))).toEqual([1])
    expect(seqs(s.accept(ev(1)))).toEqual([])
    expect(seqs(s.accept(ev(3)))).toEqual([])
    expect(s.hasGap('run1')).toBe(true)
    expect(seqs(s.accept(ev(4)))).toEqual([])
    expect(seqs(s.accept(ev(2)))).toEqual([2, 3, 4])
    expect(s.hasGap('run1')).toBe(false)
    expect(s.get('run1')!.lastSeq).toBe(4)
    expect(seqs(s.accept(ev(5, { type: 'agent_completed', status: 'completed' } as any)))).toEqual([5])
    expect(s.get('run1')!.done).toBe(true)
    expect(s.unfinished()).toEqual([])
  })
})

describe('ChatSocket', () => {
  test('authenticates first, waits for ready, then sends what was queued', async () => {
    const { socket } = client()
    socket.start()
    await until(() => FakeWS.all.length === 1)
    const ws = FakeWS.all[0]
    const { requestId, accepted } = socket.chat({ content: 'hello', threadId: 't1', agent: 'planner' })
    ws.open()
    expect(ws.sent).toEqual([{ type: 'auth', token: 'token-1' }])
    ws.ready()
    expect(socket.status).toBe('open')
    expect(ws.sent[1]).toEqual({ type: 'chat', requestId, content: 'hello', threadId: 't1', agent: 'planner' })
    ws.receive({ type: 'run_accepted', requestId, runId: 'run1', threadId: 't1' })
    expect(await accepted).toEqual({ requestId, runId: 'run1', threadId: 't1' })
  })

  test('an error frame for the request rejects it; a bad frame does not disturb others', async () => {
    const { socket } = client()
    const ws = await connect(socket)
    const { requestId, accepted } = socket.chat({ content: 'x' })
    ws.receive({ type: 'error', code: 'too_many_runs', message: 'slow down', requestId })
    const error = await accepted.catch((e) => e)
    expect(error).toBeInstanceOf(SocketRequestError)
    expect(error.code).toBe('too_many_runs')
    ws.receive({ type: 'error', code: 'invalid_json', message: 'bad' })
    expect(socket.status).toBe('open')
  })

  test('events come out once each and in order, whatever the wire does', async () => {
    const { socket, events } = client()
    const ws = await connect(socket)
    for (const seq of [1, 2, 2, 4, 3, 3, 5, 1]) ws.receive(ev(seq))
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
  })

  test('after a drop it reconnects, resumes every unfinished run from its last seq, and drops replayed duplicates', async () => {
    const saved: Record<string, string>[] = []
    const { socket, events } = client({ activeRuns: { save: (r) => saved.push(r) } })
    const ws1 = await connect(socket)
    ws1.receive(ev(1, { type: 'agent_started', input: 'q' } as any))
    ws1.receive(ev(2))
    ws1.receive(ev(3))
    ws1.receive(ev(1, { runId: 'run2', threadId: 't2', type: 'agent_started', input: 'q2' } as any))
    expect(saved.at(-1)).toEqual({ run1: 't1', run2: 't2' })
    ws1.drop(1006)
    expect(socket.status).toBe('reconnecting')

    const ws2 = await connect(socket, 1)
    expect(ws2.sent[0]).toEqual({ type: 'auth', token: 'token-1' })
    expect(ws2.sent.slice(1)).toEqual([
      { type: 'resume', runId: 'run1', afterSeq: 3 },
      { type: 'resume', runId: 'run2', afterSeq: 1 },
    ])
    // The replay overlaps what we had; live events interleave with it.
    for (const seq of [2, 3, 4, 6, 5]) ws2.receive(ev(seq))
    ws2.receive(ev(7, { type: 'agent_completed', status: 'completed', message: { id: 'm', content: '' } } as any))
    expect(events.filter((e) => e.runId === 'run1').map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(saved.at(-1)).toEqual({ run2: 't2' })
  })

  test('a gap that is not filled by itself is asked for with resume', async () => {
    const { socket, events } = client()
    const ws = await connect(socket)
    ws.receive(ev(1))
    ws.receive(ev(3))
    await until(() => ws.sent.some((f) => f.type === 'resume'))
    expect(ws.sent.find((f) => f.type === 'resume')).toEqual({ type: 'resume', runId: 'run1', afterSeq: 1 })
    ws.receive(ev(2))
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3])
  })

  test('a run first seen mid-way (another tab, a late connection) is replayed from the start', async () => {
    const { socket, events } = client()
    const ws = await connect(socket)
    ws.receive(ev(5, { runId: 'other', threadId: 't9' }))
    await until(() => ws.sent.some((f) => f.type === 'resume'))
    expect(ws.sent.find((f) => f.type === 'resume')).toEqual({ type: 'resume', runId: 'other', afterSeq: 0 })
    for (const seq of [1, 2, 3, 4, 5]) ws.receive(ev(seq, { runId: 'other', threadId: 't9' }))
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
  })

  test('a new token re-authenticates the live socket in-band', async () => {
    const { socket } = client()
    const ws = await connect(socket)
    socket.updateToken('token-2')
    expect(ws.sent.at(-1)).toEqual({ type: 'auth', token: 'token-2' })
    socket.updateToken('token-2')
    expect(ws.sent.filter((f) => f.type === 'auth').length).toBe(2)
  })

  test('a token changed while connecting is sent right after ready', async () => {
    const { socket } = client()
    socket.start()
    await until(() => FakeWS.all.length === 1)
    const ws = FakeWS.all[0]
    ws.open()
    socket.updateToken('token-2')
    expect(ws.types()).toEqual(['auth'])
    ws.ready()
    expect(ws.sent).toEqual([
      { type: 'auth', token: 'token-1' },
      { type: 'auth', token: 'token-2' },
    ])
  })

  test('token_expiring is passed on as epoch milliseconds', async () => {
    const warned: number[] = []
    const { socket } = client({ onTokenExpiring: (at) => warned.push(at) })
    const ws = await connect(socket)
    ws.receive({ type: 'token_expiring', expiresAt: 1_900_000_000 })
    expect(warned).toEqual([1_900_000_000_000])
  })

  test('a close for an expired token (4401) refreshes before reconnecting', async () => {
    let refreshed = 0
    const { socket } = client({
      refreshToken: async () => {
        refreshed++
        return 'token-new'
      },
    })
    const ws1 = await connect(socket)
    ws1.drop(CLOSE_CODES.unauthorized)
    const ws2 = await connect(socket, 1)
    expect(refreshed).toBe(1)
    expect(ws2.sent[0]).toEqual({ type: 'auth', token: 'token-new' })
  })

  test('without a session it stops instead of reconnecting', async () => {
    const { socket } = client({ getToken: async () => undefined })
    socket.start()
    await until(() => socket.status === 'stopped')
    expect(FakeWS.all.length).toBe(0)
  })

  test('backoff grows exponentially up to the cap', async () => {
    const { socket } = client({ random: () => 1, backoffInitialMs: 20, backoffMaxMs: 80 })
    socket.start()
    const times: number[] = []
    const delays: number[] = []
    for (let i = 0; i < 5; i++) {
      await until(() => FakeWS.all.length > i, 3000)
      times.push(performance.now())
      FakeWS.all[i].drop(1006) // never got to ready: a failed attempt
      const state = socket.state
      if (state.kind === 'waiting') delays.push(state.delayMs)
    }
    // The delay the transport waits, doubling from the first failure up to the cap...
    expect(delays).toEqual([40, 80, 80, 80, 80])
    // ...and the timer really waits it (lower bounds only: a loaded machine may be late, never early).
    const gaps = times.slice(1).map((t, i) => t - times[i])
    expect(gaps[0]).toBeGreaterThanOrEqual(38)
    expect(gaps[1]).toBeGreaterThanOrEqual(78)
    expect(gaps[2]).toBeGreaterThanOrEqual(78)
    expect(gaps[3]).toBeGreaterThanOrEqual(78)
  })

  test('a chat sent on a socket that drops before run_accepted fails with connection_lost', async () => {
    const { socket } = client()
    const ws = await connect(socket)
    const { accepted } = socket.chat({ content: 'x' })
    ws.drop(1006)
    const error = await accepted.catch((e) => e)
    expect(error.code).toBe('connection_lost')
  })

  test('when the socket keeps failing, unfinished runs are polled over HTTP until it is back', async () => {
    const calls: [string, number][] = []
    const script: Record<number, RunEvent[]> = {
      2: [ev(3), ev(4)],
      4: [ev(5, { type: 'agent_completed', status: 'completed', message: { id: 'm', content: '' } } as any)],
    }
    const { socket, events } = client({
      pollAfterFailures: 2,
      pollIntervalMs: 10,
      fetchEvents: async (runId, after) => {
        calls.push([runId, after])
        return { events: script[after] ?? [], done: after >= 5 }
      },
    })
    const ws = await connect(socket)
    ws.receive(ev(1))
    ws.receive(ev(2))
    ws.drop(1006)
    // Every further attempt fails before ready.
    for (let i = 1; i < 4; i++) {
      await until(() => FakeWS.all.length > i, 3000)
      FakeWS.all[i].drop(1006)
    }
    await until(() => events.length === 5, 3000)
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
    expect(calls[0]).toEqual(['run1', 2])
    expect(calls.some(([, after]) => after === 4)).toBe(true)
  })

  test('a silent socket is pinged, then replaced', async () => {
    const { socket } = client({ heartbeatMs: 30 })
    const ws = await connect(socket)
    await until(() => ws.types().includes('ping'), 2000)
    await until(() => FakeWS.all.length === 2, 2000) // no pong: dropped and reconnected
    expect(ws.closedWith).toBe(CLOSE_CODES.reconnecting)
  })

  test('its state is the transport state: open, then waiting after a drop; networkLost and reconnectNow act at once', async () => {
    const { socket } = client({ backoffInitialMs: 60_000, backoffMaxMs: 60_000 })
    expect(socket.state).toEqual({ kind: 'idle' })
    const ws1 = await connect(socket)
    expect(socket.state).toEqual({ kind: 'open' })
    socket.networkLost()
    expect(ws1.closedWith).toBe(CLOSE_CODES.reconnecting)
    expect(socket.state).toMatchObject({ kind: 'waiting', failures: 0, refresh: false })
    expect(socket.status).toBe('reconnecting')
    // A minute of back-off, cut short by the browser coming back online.
    socket.reconnectNow()
    expect(socket.state).toMatchObject({ kind: 'connecting', failures: 0 })
    const ws2 = await connect(socket, 1)
    expect(ws2.sent[0]).toEqual({ type: 'auth', token: 'token-1' })
    expect(socket.state).toEqual({ kind: 'open' })
    socket.reconnectNow() // a live socket is left alone
    expect(FakeWS.all.length).toBe(2)
    socket.stop()
    expect(socket.state).toEqual({ kind: 'stopped' })
    expect(ws2.closedWith).toBe(CLOSE_CODES.normal)
  })

  test('cancel and track send their frames; stop fails pending requests', async () => {
    const { socket } = client()
    const ws = await connect(socket)
    expect(socket.cancel('run1')).toBe(true)
    socket.track('run9', 't9')
    expect(ws.sent.slice(-2)).toEqual([
      { type: 'cancel', runId: 'run1' },
      { type: 'resume', runId: 'run9', afterSeq: 0 },
    ])
    const { accepted } = socket.chat({ content: 'x' })
    socket.stop()
    expect((await accepted.catch((e) => e)).code).toBe('stopped')
    expect(socket.cancel('run1')).toBe(false)
  })
})

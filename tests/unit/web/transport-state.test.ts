/**
 * The transport's lifecycle as one value (src/web/client/transport-state.ts): every transition
 * of the pure function, the back-off it computes, and how the app's status is derived from it.
 */
import { describe, expect, test } from 'bun:test'
import { CLOSE_CODES } from '../../../src/protocol'
import { socketStatus } from '../../../src/web/client/socket'
import {
  backoffDelay,
  nextTransportState,
  type TransportEvent,
  type TransportState,
} from '../../../src/web/client/transport-state'

const config = { backoffInitialMs: 100, backoffMaxMs: 1_000, random: () => 1 }
const next = (state: TransportState, event: TransportEvent) => nextTransportState(state, event, config)
const run = (events: TransportEvent[], from: TransportState = { kind: 'idle' }) => events.reduce(next, from)

describe('nextTransportState', () => {
  test('start connects; ready opens', () => {
    const connecting = next({ kind: 'idle' }, { type: 'start' })
    expect(connecting).toEqual({ kind: 'connecting', failures: 0, refresh: false })
    expect(next(connecting, { type: 'ready' })).toEqual({ kind: 'open' })
  })

  test('an open socket that drops waits the shortest back-off, with no failure counted', () => {
    const state = run([{ type: 'start' }, { type: 'ready' }, { type: 'closed', code: 1006 }])
    expect(state).toEqual({ kind: 'waiting', failures: 0, refresh: false, delayMs: 100 })
    expect(next(state, { type: 'retry' })).toEqual({ kind: 'connecting', failures: 0, refresh: false })
  })

  test('attempts that never reach ready count up and back off exponentially to the cap', () => {
    let state: TransportState = next({ kind: 'idle' }, { type: 'start' })
    const delays: number[] = []
    for (let i = 0; i < 5; i++) {
      state = next(state, i % 2 ? { type: 'failed' } : { type: 'closed', code: 1006 })
      if (state.kind !== 'waiting') throw new Error(`expected waiting, got ${state.kind}`)
      delays.push(state.delayMs)
      expect(state.failures).toBe(i + 1)
      state = next(state, { type: 'retry' })
      expect(state).toEqual({ kind: 'connecting', failures: i + 1, refresh: false })
    }
    expect(delays).toEqual([200, 400, 800, 1_000, 1_000])
    // Reaching ready forgets the failures.
    expect(run([{ type: 'ready' }, { type: 'closed', code: 1006 }], state)).toMatchObject({ failures: 0 })
  })

  test('a close for an expired token makes the next attempt refresh it, once', () => {
    const waiting = run([{ type: 'start' }, { type: 'ready' }, { type: 'closed', code: CLOSE_CODES.unauthorized }])
    expect(waiting).toMatchObject({ kind: 'waiting', refresh: true })
    const retry = next(waiting, { type: 'retry' })
    expect(retry).toEqual({ kind: 'connecting', failures: 0, refresh: true })
    // That attempt failing for another reason does not refresh again.
    expect(next(retry, { type: 'closed', code: 1006 })).toMatchObject({ kind: 'waiting', refresh: false })
    expect(next(retry, { type: 'failed' })).toMatchObject({ kind: 'waiting', refresh: false })
  })

  test('reconnect_now ends a back-off and forgets failures; it leaves a live or opening socket alone', () => {
    const waiting: TransportState = { kind: 'waiting', failures: 4, refresh: true, delayMs: 1_000 }
    expect(next(waiting, { type: 'reconnect_now' })).toEqual({ kind: 'connecting', failures: 0, refresh: true })
    const open: TransportState = { kind: 'open' }
    expect(next(open, { type: 'reconnect_now' })).toBe(open)
    const connecting: TransportState = { kind: 'connecting', failures: 2, refresh: false }
    expect(next(connecting, { type: 'reconnect_now' })).toBe(connecting)
  })

  test('stop ends every state; only start leaves stopped', () => {
    const states: TransportState[] = [
      { kind: 'idle' },
      { kind: 'connecting', failures: 1, refresh: false },
      { kind: 'open' },
      { kind: 'waiting', failures: 0, refresh: false, delayMs: 5 },
    ]
    for (const state of states) expect(next(state, { type: 'stop' })).toEqual({ kind: 'stopped' })
    const stopped: TransportState = { kind: 'stopped' }
    for (const event of [
      { type: 'ready' },
      { type: 'retry' },
      { type: 'closed', code: 1006 },
      { type: 'failed' },
      { type: 'reconnect_now' },
    ] as TransportEvent[])
      expect(next(stopped, event)).toBe(stopped)
    expect(next(stopped, { type: 'start' })).toEqual({ kind: 'connecting', failures: 0, refresh: false })
  })

  test('events that mean nothing in a state leave it as it is (a late retry, a ready while waiting)', () => {
    const open: TransportState = { kind: 'open' }
    expect(next(open, { type: 'retry' })).toBe(open)
    expect(next(open, { type: 'start' })).toBe(open)
    const waiting: TransportState = { kind: 'waiting', failures: 1, refresh: false, delayMs: 5 }
    expect(next(waiting, { type: 'ready' })).toBe(waiting)
    expect(next(waiting, { type: 'closed', code: 1006 })).toBe(waiting)
  })
})

describe('backoffDelay', () => {
  test('half fixed, half jitter', () => {
    expect(backoffDelay(0, { ...config, random: () => 0 })).toBe(50)
    expect(backoffDelay(0, { ...config, random: () => 0.5 })).toBe(75)
    expect(backoffDelay(10, { ...config, random: () => 0 })).toBe(500)
  })
})

describe('socketStatus', () => {
  test('derives what the app shows', () => {
    expect(socketStatus({ kind: 'idle' }, false)).toBe('idle')
    expect(socketStatus({ kind: 'connecting', failures: 0, refresh: false }, false)).toBe('connecting')
    expect(socketStatus({ kind: 'connecting', failures: 1, refresh: false }, false)).toBe('reconnecting')
    expect(socketStatus({ kind: 'waiting', failures: 0, refresh: false, delayMs: 1 }, false)).toBe('reconnecting')
    expect(socketStatus({ kind: 'waiting', failures: 3, refresh: false, delayMs: 1 }, true)).toBe('polling')
    expect(socketStatus({ kind: 'open' }, false)).toBe('open')
    expect(socketStatus({ kind: 'stopped' }, false)).toBe('stopped')
  })
})

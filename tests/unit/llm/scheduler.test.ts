import { describe, expect, test } from 'bun:test'
import { FairScheduler, type Lease } from '../../../src/llm/scheduler'
import { LlmError } from '../../../src/llm/provider'

const settle = () => new Promise((resolve) => setImmediate(resolve))

/** A scheduler plus a log of who got a slot, in order; `next()` ends the oldest call in flight. */
function harness(opts: { slots?: number | ((model: string) => number); perUser?: number; max?: number } = {}) {
  const scheduler = new FairScheduler({
    slots: opts.slots ?? 1,
    maxQueuedPerUser: opts.perUser ?? 100,
    maxQueued: opts.max ?? 1000,
  })
  const served: string[] = []
  const held: Lease[] = []
  const positions = new Map<string, number[]>()
  const ask = (userId: string, label: string, extra: { model?: string; signal?: AbortSignal } = {}) => {
    const promise = scheduler.acquire({
      model: extra.model ?? 'm',
      userId,
      signal: extra.signal,
      onQueued: (p) => positions.set(label, [...(positions.get(label) ?? []), p]),
    })
    promise.then(
      (lease) => {
        served.push(label)
        held.push(lease)
      },
      () => {},
    )
    return promise
  }
  /** Ends the oldest call holding a slot (one "slot" of model time). */
  const next = async () => {
    held.shift()!.release()
    await settle()
  }
  return { scheduler, served, held, positions, ask, next }
}

describe('round-robin across users', () => {
  test('a free slot is taken at once, without a queue position', async () => {
    const h = harness()
    const lease = await h.ask('a', 'a1')
    expect(lease.model).toBe('m')
    expect(h.positions.get('a1')).toBeUndefined()
    expect(h.scheduler.inFlight).toBe(1)
    expect(h.scheduler.depth('m')).toBe(0)
  })

  test("a user flooding 20 requests delays another user's single request by at most the slot in use", async () => {
    const h = harness()
    await h.ask('flood', 'f1')
    for (let i = 2; i <= 20; i++) h.ask('flood', `f${i}`)
    await settle()
    expect(h.scheduler.depth('m')).toBe(19)
    h.ask('single', 's1')
    await settle()
    expect(h.positions.get('s1')).toEqual([1])

    // Measured in slots: after the one call in flight ends, the single request is next.
    await h.next()
    expect(h.served).toEqual(['f1', 's1'])
    while (h.held.length) await h.next()
    expect(h.served).toEqual(['f1', 's1', ...Array.from({ length: 19 }, (_, i) => `f${i + 2}`)])
  })

  test('several users take turns; each user keeps their own order', async () => {
    const h = harness()
    await h.ask('a', 'a1')
    for (const label of ['a2', 'a3', 'a4']) h.ask('a', label)
    for (const label of ['b1', 'b2']) h.ask('b', label)
    h.ask('c', 'c1')
    await settle()
    while (h.held.length) await h.next()
    // b and c never had a slot, so they go before a (just served); then turns: b, c, a, b, a, a…
    expect(h.served).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4'])
  })

  test('with 2 slots, a late single request still waits for no more than one slot to free', async () => {
    const h = harness({ slots: 2 })
    await h.ask('a', 'a1')
    await h.ask('a', 'a2')
    for (let i = 3; i <= 10; i++) h.ask('a', `a${i}`)
    h.ask('b', 'b1')
    await settle()
    await h.next()
    expect(h.served.slice(2)).toEqual(['b1'])
  })

  test('queues are per model: a busy model does not hold up another', async () => {
    const h = harness()
    await h.ask('a', 'a1', { model: 'big' })
    h.ask('a', 'a2', { model: 'big' })
    await h.ask('b', 'b1', { model: 'small' })
    expect(h.served).toEqual(['a1', 'b1'])
    expect(h.scheduler.depths()).toEqual({ big: 1 })
    expect(h.scheduler.inFlightOf('big')).toBe(1)
    expect(h.scheduler.inFlightOf('small')).toBe(1)
  })
})

describe('queue caps: clear errors, never silent drops', () => {
  test('over the per-user cap: too_many_runs; other users still queue', async () => {
    const h = harness({ perUser: 2 })
    await h.ask('a', 'a1') // in flight: not counted against the queue cap
    h.ask('a', 'a2')
    h.ask('a', 'a3')
    const refused = await h.ask('a', 'a4').then(
      () => undefined,
      (e) => e,
    )
    expect(refused).toBeInstanceOf(LlmError)
    expect(refused.code).toBe('too_many_runs')
    expect(refused.message).toContain('2 requests waiting')
    expect(h.scheduler.queuedOf('a')).toBe(2)
    h.ask('b', 'b1')
    await settle()
    expect(h.scheduler.depth('m')).toBe(3)
    // Once one leaves the queue, the user may queue again.
    await h.next()
    expect(h.scheduler.queuedOf('a')).toBe(2)
    await h.next()
    expect(h.scheduler.queuedOf('a')).toBe(1)
    await expect(Promise.race([h.ask('a', 'a5').then(() => 'served'), settle().then(() => 'queued')])).resolves.toBe(
      'queued',
    )
  })

  test('over the global cap: server_busy', async () => {
    const h = harness({ max: 3 })
    await h.ask('a', 'a1')
    h.ask('a', 'a2')
    h.ask('b', 'b1')
    h.ask('c', 'c1')
    const refused = await h.ask('d', 'd1').catch((e) => e)
    expect(refused).toBeInstanceOf(LlmError)
    expect(refused.code).toBe('server_busy')
    expect(refused.status).toBe(503)
    expect(h.scheduler.queued).toBe(3)
    expect(h.scheduler.queuedOf('d')).toBe(0)
  })
})

describe('abort while queued', () => {
  test('leaves the queue at once with the abort reason, and its place goes to the next', async () => {
    const h = harness()
    await h.ask('a', 'a1')
    const controller = new AbortController()
    const b1 = h.ask('b', 'b1', { signal: controller.signal })
    h.ask('c', 'c1')
    await settle()
    expect(h.scheduler.depth('m')).toBe(2)
    const reason = new Error('cancelled by the user')
    controller.abort(reason)
    await expect(b1).rejects.toBe(reason)
    expect(h.scheduler.depth('m')).toBe(1)
    expect(h.scheduler.queuedOf('b')).toBe(0)
    // c1 moved up to first place and was told so.
    expect(h.positions.get('c1')).toEqual([2, 1])
    await h.next()
    expect(h.served).toEqual(['a1', 'c1'])
    await h.next()
    // No slot leaked: everything is back to zero, and a new request is served at once.
    expect(h.scheduler.inFlight).toBe(0)
    expect(h.scheduler.depths()).toEqual({})
    await h.ask('d', 'd1')
    expect(h.scheduler.inFlight).toBe(1)
  })

  test('an already aborted signal is refused without queueing', async () => {
    const h = harness()
    await h.ask('a', 'a1')
    const reason = new Error('gone')
    await expect(h.ask('b', 'b1', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(h.scheduler.queued).toBe(0)
  })

  test('many aborted waiters leave nothing behind', async () => {
    const h = harness()
    const first = await h.ask('a', 'a1')
    const controllers = Array.from({ length: 50 }, (_, i) => {
      const c = new AbortController()
      h.ask(`u${i % 5}`, `w${i}`, { signal: c.signal })
      return c
    })
    await settle()
    expect(h.scheduler.queued).toBe(50)
    for (const c of controllers) c.abort()
    await settle()
    expect(h.scheduler.queued).toBe(0)
    first.release()
    first.release() // idempotent
    await settle()
    expect(h.scheduler.inFlight).toBe(0)
    expect(h.scheduler.depths()).toEqual({})
    expect(h.served).toEqual(['a1'])
  })
})

describe('queue positions', () => {
  test('reported when queued and whenever they improve, never when they get worse', async () => {
    const h = harness()
    await h.ask('a', 'a1')
    h.ask('a', 'a2')
    h.ask('a', 'a3')
    await settle()
    expect(h.positions.get('a2')).toEqual([1])
    expect(h.positions.get('a3')).toEqual([2])
    h.ask('b', 'b1') // goes ahead of a's queue: a2 and a3 fall back, which is not reported
    await settle()
    expect(h.positions.get('b1')).toEqual([1])
    expect(h.positions.get('a2')).toEqual([1])
    await h.next() // b1 served: a2 is next again (no report: not better than 1), a3 improves
    expect(h.served).toEqual(['a1', 'b1'])
    expect(h.positions.get('a2')).toEqual([1])
    expect(h.positions.get('a3')).toEqual([2])
    await h.next()
    expect(h.positions.get('a3')).toEqual([2, 1])
  })

  test('a position counts the turns of other users', async () => {
    const h = harness()
    await h.ask('x', 'x1')
    for (const l of ['a1', 'a2', 'a3']) h.ask('a', l)
    h.ask('b', 'b1')
    await settle()
    // Serving order: a1, b1, a2, a3. Places are worked out once after the arrivals of one turn,
    // so b1, who came in the same turn, already counts for a3.
    expect(h.positions.get('a3')).toEqual([4])
    expect(h.positions.get('b1')).toEqual([2])
    await h.next()
    await h.next()
    await h.next()
    expect(h.served).toEqual(['x1', 'a1', 'b1', 'a2'])
    expect(h.positions.get('a3')).toEqual([4, 3, 2, 1])
  })
})

describe('capacity that changes', () => {
  test('pump() hands out slots that appeared; failQueued() rejects every waiter', async () => {
    let slots = 0
    const h = harness({ slots: () => slots })
    const a = h.ask('a', 'a1')
    const b = h.ask('b', 'b1')
    const c = h.ask('c', 'c1', { model: 'other' })
    await settle()
    expect(h.scheduler.depths()).toEqual({ m: 2, other: 1 })
    slots = 1
    h.scheduler.pump()
    await settle()
    expect(h.served.sort()).toEqual(['a1', 'c1'])
    slots = 0
    const down = new LlmError('llm_unavailable', 'down')
    expect(h.scheduler.failQueued(down)).toBe(1)
    await expect(b).rejects.toBe(down)
    await a
    await c
    expect(h.scheduler.depths()).toEqual({})
  })
})

describe('queue positions at scale', () => {
  test('every first place equals the place the request is actually served at', async () => {
    const h = harness({ perUser: 1000, max: 10_000 })
    await h.ask('holder', 'h0')
    // 40 users with 1–9 requests each, arriving interleaved in one turn.
    const counts = Array.from({ length: 40 }, (_, i) => 1 + ((i * 7) % 9))
    const labels: string[] = []
    for (let round = 0; round < 9; round++) {
      counts.forEach((n, u) => {
        if (round < n) {
          labels.push(`u${u}-${round}`)
          h.ask(`u${u}`, `u${u}-${round}`)
        }
      })
    }
    await settle()
    while (h.held.length) await h.next()
    const servedAt = new Map(h.served.slice(1).map((label, i) => [label, i + 1]))
    expect(servedAt.size).toBe(labels.length)
    for (const label of labels) {
      const reported = h.positions.get(label)!
      expect(reported[0]).toBe(servedAt.get(label)!)
      // Told each step up, down to "next".
      expect(reported.at(-1)).toBe(1)
      expect(reported).toEqual(Array.from({ length: reported[0] }, (_, i) => reported[0] - i))
    }
  })

  test('with a report interval, places go out in passes, not once per grant', async () => {
    const interval = 200
    const scheduler = new FairScheduler({
      slots: 1,
      maxQueuedPerUser: 10,
      maxQueued: 10_000,
      reportIntervalMs: interval,
    })
    const reports = new Map<number, number[]>()
    const first = await scheduler.acquire({ model: 'm', userId: 'holder' })
    const leases: Promise<Lease>[] = []
    for (let i = 0; i < 500; i++)
      leases.push(
        scheduler.acquire({
          model: 'm',
          userId: `u${i}`,
          onQueued: (p) => reports.set(i, [...(reports.get(i) ?? []), p]),
        }),
      )
    // Every newcomer hears its first place in one pass.
    while (reports.size < 500) await Bun.sleep(5)
    expect(reports.get(0)).toEqual([1])
    expect(reports.get(499)).toEqual([500])

    // 200 grants, each in a task of its own.
    const started = performance.now()
    first.release()
    for (let i = 0; i < 199; i++) {
      ;(await leases[i]).release()
      await settle()
    }
    const elapsed = performance.now() - started
    await Bun.sleep(interval * 2)
    const passes = Math.ceil((elapsed + interval * 2) / interval) + 1
    // A waiter still waiting at the end was told its place at most once per pass…
    const last = reports.get(499)!
    expect(last.length).toBeLessThanOrEqual(1 + passes)
    expect(last.length).toBeLessThan(200)
    // …and the latest report is exact: 300 wait, u200 is next, u499 last.
    expect(last.at(-1)).toBe(300)
    expect(reports.get(200)!.at(-1)).toBe(1)
    for (const lease of leases.slice(199)) void lease.then((l) => l.release())
    ;(await leases[199]).release()
  })
})

/**
 * The user context (src/context/user-context.ts): who is acting, and the lifetime of what they
 * started. Everything else (repositories, tools, runs) trusts `currentUser()`, so these tests
 * prove it never answers with the wrong user, and that disposal leaves nothing behind.
 */
import { test, expect, describe, setDefaultTimeout } from 'bun:test'
import {
  createUserContext,
  currentContext,
  currentUser,
  maybeCurrentContext,
  MissingUserContextError,
  onIsolationGuard,
  runAsUser,
  runWithoutUser,
  UserContext,
} from '../../../src/context/user-context'

// A hang guard, not a speed bound (the memory tests force full collections on a loaded machine).
// Set per file because bun 1.4 applies a preload's setDefaultTimeout to the first file only.
setDefaultTimeout(30_000)

/** A small seeded generator so a failing interleaving can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

/** One of several ways to give up the CPU: microtask, promise chain, timer, immediate. */
function randomYield(random: () => number): Promise<void> {
  switch (Math.floor(random() * 5)) {
    case 0:
      return Promise.resolve()
    case 1:
      return new Promise((resolve) => queueMicrotask(resolve))
    case 2:
      return new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 3)))
    case 3:
      return new Promise((resolve) => setImmediate(resolve))
    default:
      return Promise.resolve().then(() => Promise.resolve())
  }
}

describe('factory', () => {
  test('creates an isolated context per user', () => {
    const metadata = { plan: 'pro' }
    const a = createUserContext({ userId: 'user-a', role: 'member', requestId: 'req-a', metadata })
    const b = createUserContext({ userId: 'user-b', role: 'admin', requestId: 'req-b' })

    expect(a).toBeInstanceOf(UserContext)
    expect(a.id).not.toBe(b.id)
    expect(a.signal).not.toBe(b.signal)
    expect([a.userId, a.role, a.requestId, a.depth, a.parent]).toEqual(['user-a', 'member', 'req-a', 0, undefined])
    expect([b.userId, b.role, b.requestId, b.depth]).toEqual(['user-b', 'admin', 'req-b', 0])

    // The context keeps its own frozen copy of the metadata: the caller's object can't reach in.
    metadata.plan = 'free'
    expect(a.metadata).toEqual({ plan: 'pro' })
    expect(Object.isFrozen(a.metadata)).toBe(true)
    expect(b.metadata).toEqual({})

    expect(a.run(() => currentUser())).toEqual({ userId: 'user-a', role: 'member' })
    expect(runAsUser(b, () => currentUser())).toEqual({ userId: 'user-b', role: 'admin' })
    expect(b.run(() => currentContext())).toBe(b)
  })

  test('disposing one user context leaves another untouched', async () => {
    const a = createUserContext({ userId: 'user-a', role: 'member' })
    const b = createUserContext({ userId: 'user-b', role: 'member' })
    const ran: string[] = []
    a.onDispose(() => void ran.push('a'))
    b.onDispose(() => void ran.push('b'))
    await a.dispose()
    expect(ran).toEqual(['a'])
    expect(a.disposed && a.signal.aborted).toBe(true)
    expect(b.disposed || b.signal.aborted).toBe(false)
    expect(b.run(() => currentUser().userId)).toBe('user-b')
  })

  test('nested run() switches the user and restores the outer one afterwards', async () => {
    const a = createUserContext({ userId: 'user-a', role: 'member' })
    const b = createUserContext({ userId: 'user-b', role: 'member' })
    await a.run(async () => {
      expect(currentUser().userId).toBe('user-a')
      await b.run(async () => {
        await Promise.resolve()
        expect(currentUser().userId).toBe('user-b')
      })
      await new Promise((r) => setTimeout(r, 1))
      expect(currentUser().userId).toBe('user-a')
    })
    expect(maybeCurrentContext()).toBeUndefined()
  })

  test('hundreds of interleaved async tasks each only ever see their own user', async () => {
    const users = Array.from({ length: 12 }, (_, i) =>
      createUserContext({ userId: `user-${i}`, role: i === 0 ? 'admin' : 'member' }),
    )
    const random = rng(20240611)
    const wrong: string[] = []
    let checks = 0

    const check = (expected: string, where: string) => {
      checks++
      const seen = currentUser().userId
      if (seen !== expected) wrong.push(`${where}: expected ${expected}, saw ${seen}`)
    }

    async function task(n: number, context: UserContext) {
      const seed = random() * 2 ** 32
      const r = rng(seed)
      const me = context.userId
      await context.run(async () => {
        for (let step = 0; step < 8; step++) {
          check(me, `task ${n} step ${step}`)
          await randomYield(r)
          check(me, `task ${n} after yield ${step}`)
          if (r() < 0.3) {
            // Fan out inside the task: nested promises, timers and callbacks keep the user too.
            await Promise.all([
              randomYield(r).then(() => check(me, `task ${n} fan-out then`)),
              new Promise<void>((resolve) =>
                setTimeout(
                  () => {
                    check(me, `task ${n} fan-out timer`)
                    resolve()
                  },
                  Math.floor(r() * 3),
                ),
              ),
              (async () => {
                await randomYield(r)
                check(me, `task ${n} fan-out async`)
              })(),
            ])
          }
          if (r() < 0.2) {
            // A child context (a tool call) on the way keeps the same user.
            const child = context.child({ metadata: { step } })
            await child.run(async () => {
              await randomYield(r)
              check(me, `task ${n} child`)
            })
            await child.dispose()
          }
        }
      })
    }

    const tasks: Promise<void>[] = []
    for (let n = 0; n < 400; n++) tasks.push(task(n, users[Math.floor(random() * users.length)]))
    await Promise.all(tasks)

    expect(wrong).toEqual([])
    expect(checks).toBeGreaterThan(400 * 16)
    expect(maybeCurrentContext()).toBeUndefined()
  })

  test('contexts started from inside another user context do not leak into each other', async () => {
    // A "server" loop running as nobody starts work for many users from the same callback chain.
    const seen = new Map<string, Set<string>>()
    await runWithoutUser(async () => {
      const jobs = Array.from({ length: 200 }, (_, i) => {
        const context = createUserContext({ userId: `u${i % 7}`, role: 'member' })
        return context.run(async () => {
          await new Promise((r) => setTimeout(r, i % 3))
          const set = seen.get(context.userId) ?? new Set()
          set.add(currentUser().userId)
          seen.set(context.userId, set)
        })
      })
      await Promise.all(jobs)
      expect(maybeCurrentContext()).toBeUndefined()
    })
    for (const [userId, set] of seen) expect([...set]).toEqual([userId])
  })
})

describe('child contexts', () => {
  test('inherit user, ids and metadata; overrides win; they know their parent', () => {
    const root = createUserContext({
      userId: 'user-a',
      role: 'admin',
      requestId: 'req-1',
      runId: 'run-1',
      connectionId: 'conn-1',
      metadata: { agent: 'triage', locale: 'en' },
    })
    const child = root.child({ runId: 'run-2', metadata: { agent: 'planner', tool: 'calculate' } })

    expect(child.parent).toBe(root)
    expect(child.id).not.toBe(root.id)
    expect([child.userId, child.role]).toEqual(['user-a', 'admin'])
    expect([child.requestId, child.runId, child.connectionId]).toEqual(['req-1', 'run-2', 'conn-1'])
    expect(child.metadata).toEqual({ agent: 'planner', locale: 'en', tool: 'calculate' })
    // The parent's metadata is not touched by the child's overrides.
    expect(root.metadata).toEqual({ agent: 'triage', locale: 'en' })
    expect(child.run(() => currentUser())).toEqual({ userId: 'user-a', role: 'admin' })
    expect(child.run(() => currentContext())).toBe(child)
  })

  test('depth counts the hierarchy across several levels', () => {
    const root = createUserContext({ userId: 'user-a', role: 'member', metadata: { level: 0 } })
    const chain: UserContext[] = [root]
    for (let level = 1; level <= 5; level++) chain.push(chain[level - 1].child({ metadata: { level } }))

    chain.forEach((context, level) => {
      expect(context.depth).toBe(level)
      expect(context.metadata.level).toBe(level)
      expect(context.userId).toBe('user-a')
      expect(context.parent).toBe(level === 0 ? undefined : chain[level - 1])
    })
    // Siblings share a parent and a depth.
    const [s1, s2] = [chain[2].child(), chain[2].child()]
    expect(s1.parent).toBe(chain[2])
    expect(s2.parent).toBe(chain[2])
    expect([s1.depth, s2.depth]).toEqual([3, 3])
    expect(s1.id).not.toBe(s2.id)
  })

  test('disposing a child runs its cleanups in reverse and leaves the parent intact', async () => {
    const parent = createUserContext({ userId: 'user-a', role: 'member' })
    const order: string[] = []
    parent.onDispose(() => void order.push('parent'))
    const child = parent.child()
    let childAbortReason: unknown
    child.signal.addEventListener('abort', () => (childAbortReason = child.signal.reason))
    child.onDispose(() => void order.push('child 1'))
    child.onDispose(async () => {
      await Promise.resolve()
      order.push('child 2')
    })
    child.onDispose(() => void order.push('child 3'))

    await child.dispose()

    expect(order).toEqual(['child 3', 'child 2', 'child 1'])
    expect(child.disposed).toBe(true)
    expect(child.signal.aborted).toBe(true)
    expect(childAbortReason).toBeInstanceOf(Error)
    // The parent: not disposed, not aborted, still usable.
    expect(parent.disposed).toBe(false)
    expect(parent.signal.aborted).toBe(false)
    expect(parent.run(() => currentUser().userId)).toBe('user-a')
    const another = parent.child()
    expect(another.depth).toBe(1)
    parent.onDispose(() => void order.push('parent 2'))

    // Disposing the parent later does not run the disposed child's cleanups twice.
    await parent.dispose()
    expect(order).toEqual(['child 3', 'child 2', 'child 1', 'parent 2', 'parent'])
    expect(another.disposed).toBe(true)
  })

  test('a failing cleanup does not stop the others', async () => {
    const context = createUserContext({ userId: 'user-a', role: 'member' })
    const ran: number[] = []
    context.onDispose(() => void ran.push(1))
    context.onDispose(() => {
      throw new Error('boom')
    })
    context.onDispose(() => void ran.push(3))
    const error = await context.dispose().then(
      () => undefined,
      (e) => e,
    )
    expect(error).toBeInstanceOf(AggregateError)
    expect(ran).toEqual([3, 1])
    // Disposal happens once.
    await context.dispose()
    expect(ran).toEqual([3, 1])
  })

  test('aborting the parent aborts every descendant', () => {
    const outer = new AbortController()
    const parent = createUserContext({ userId: 'user-a', role: 'member', signal: outer.signal })
    const child = parent.child()
    const grandchild = child.child()
    const sibling = parent.child()

    outer.abort(new Error('client went away'))

    for (const context of [parent, child, grandchild, sibling]) {
      expect(context.signal.aborted).toBe(true)
      expect((context.signal.reason as Error).message).toBe('client went away')
    }
  })

  test("a child's own signal aborts the child only", () => {
    const parent = createUserContext({ userId: 'user-a', role: 'member' })
    const timeout = new AbortController()
    const child = parent.child({ signal: timeout.signal })
    timeout.abort()
    expect(child.signal.aborted).toBe(true)
    expect(parent.signal.aborted).toBe(false)
  })

  test('disposing the parent aborts and disposes its live children, deepest cleanups first', async () => {
    const parent = createUserContext({ userId: 'user-a', role: 'member' })
    const order: string[] = []
    parent.onDispose(() => void order.push('parent'))
    const child = parent.child()
    child.onDispose(() => void order.push('child'))
    const grandchild = child.child()
    grandchild.onDispose(() => void order.push('grandchild'))

    await parent.dispose()

    expect(order).toEqual(['grandchild', 'child', 'parent'])
    for (const context of [parent, child, grandchild]) {
      expect(context.disposed).toBe(true)
      expect(context.signal.aborted).toBe(true)
    }
    expect(() => parent.child()).toThrow()
    expect(() => parent.onDispose(() => {})).toThrow()
  })
})

describe('isolation guard', () => {
  test('currentUser() outside any context throws and tells the guard listeners', async () => {
    const told: MissingUserContextError[] = []
    const stop = onIsolationGuard((error) => told.push(error))
    try {
      expect(() => currentUser()).toThrow(MissingUserContextError)
      expect(() => currentContext()).toThrow(MissingUserContextError)
      // Explicitly "no user" (system work) is also outside any user.
      expect(() => runWithoutUser(() => currentUser())).toThrow(MissingUserContextError)
      // Inside a user context nested in system work, the user is back.
      const context = createUserContext({ userId: 'user-a', role: 'member' })
      expect(runWithoutUser(() => context.run(() => currentUser().userId))).toBe('user-a')
      // And system work started inside a user context does not act as that user.
      expect(() => context.run(() => runWithoutUser(() => currentUser()))).toThrow(MissingUserContextError)
      // After an async hop outside a context, still nobody.
      await new Promise((r) => setTimeout(r, 1))
      expect(() => currentUser()).toThrow(MissingUserContextError)
      expect(maybeCurrentContext()).toBeUndefined()
    } finally {
      stop()
    }
    expect(told.length).toBe(5)
    for (const error of told) expect(error).toBeInstanceOf(MissingUserContextError)

    // An unsubscribed listener hears nothing more.
    expect(() => currentUser()).toThrow(MissingUserContextError)
    expect(told.length).toBe(5)
  })
})

describe('disposal leaves nothing behind', () => {
  /** One request's worth of context: root, two children, a grandchild, cleanups, listeners. */
  async function churn(count: number, longLived: AbortSignal) {
    for (let i = 0; i < count; i++) {
      const root = createUserContext({
        userId: `user-${i % 50}`,
        role: 'member',
        requestId: `req-${i}`,
        metadata: { i },
        signal: longLived,
      })
      const buffer = new Uint8Array(256) // something worth leaking if a closure kept it
      root.onDispose(() => void buffer.fill(0))
      root.signal.addEventListener('abort', () => buffer.fill(1))
      const a = root.child({ metadata: { tool: 'a' } })
      const b = root.child({ signal: longLived })
      const grandchild = a.child()
      grandchild.onDispose(() => {})
      a.signal.addEventListener('abort', () => {}, { once: true })
      const timer = setTimeout(() => {}, 60_000)
      b.onDispose(() => clearTimeout(timer))
      await root.run(async () => {
        await grandchild.run(() => Promise.resolve(currentUser()))
      })
      if (i % 2 === 0) await a.dispose() // some children go first, the rest with the parent
      await root.dispose()
    }
  }

  async function settledHeap(): Promise<number> {
    for (let i = 0; i < 3; i++) {
      Bun.gc(true)
      await new Promise((r) => setTimeout(r, 0))
    }
    return process.memoryUsage().heapUsed
  }

  test('10,000 disposed contexts leave no retained growth', async () => {
    // The long-lived signal stands for a server-wide shutdown signal every request follows: a
    // listener left on it would keep every context (and its closures) alive.
    const server = new AbortController()
    await churn(1_000, server.signal) // warm up JIT, caches and id strings
    const before = await settledHeap()
    await churn(10_000, server.signal)
    const after = await settledHeap()
    const growth = after - before
    // Retaining the 40,000 contexts (with their 256-byte buffers) would be well over 10 MB.
    expect(growth).toBeLessThan(4 * 1024 * 1024)
    expect(server.signal.aborted).toBe(false)
  }, 60_000)

  test('disposed contexts become collectable (WeakRef + FinalizationRegistry)', async () => {
    const server = new AbortController()
    const count = 500
    let finalized = 0
    const registry = new FinalizationRegistry<string>(() => void finalized++)
    const refs: WeakRef<UserContext>[] = []

    // Built in a separate function so no local variable of this frame keeps one alive.
    async function build() {
      for (let i = 0; i < count; i++) {
        const root = createUserContext({ userId: `user-${i}`, role: 'member', signal: server.signal })
        const child = root.child({ signal: server.signal })
        child.onDispose(() => {})
        root.signal.addEventListener('abort', () => {})
        await child.run(() => Promise.resolve(currentUser()))
        await root.dispose()
        refs.push(new WeakRef(root), new WeakRef(child))
        registry.register(root, root.id)
        registry.register(child, child.id)
      }
    }
    await build()

    let alive = refs.length
    for (let attempt = 0; attempt < 20 && (alive > 0 || finalized < refs.length); attempt++) {
      Bun.gc(true)
      await new Promise((r) => setTimeout(r, 5))
      alive = refs.filter((r) => r.deref() !== undefined).length
    }
    // JavaScriptCore scans the stack conservatively, so a stray word may pin one or two; a leak
    // (a listener on the long-lived signal, a parent's cleanup list) would pin them all.
    expect(alive).toBeLessThanOrEqual(2)
    expect(finalized).toBeGreaterThanOrEqual(refs.length - 2)
  }, 30_000)

  test('a live child is held by its parent only until it is disposed', async () => {
    const parent = createUserContext({ userId: 'user-a', role: 'member' })
    const refs: WeakRef<UserContext>[] = []
    async function build() {
      for (let i = 0; i < 200; i++) {
        const child = parent.child()
        child.onDispose(() => {})
        refs.push(new WeakRef(child))
        await child.dispose()
      }
    }
    await build()
    let alive = refs.length
    for (let attempt = 0; attempt < 20 && alive > 0; attempt++) {
      Bun.gc(true)
      await new Promise((r) => setTimeout(r, 5))
      alive = refs.filter((r) => r.deref() !== undefined).length
    }
    expect(alive).toBeLessThanOrEqual(2)
    expect(parent.disposed).toBe(false)
    await parent.dispose()
  })
})

/**
 * How the tabs of one browser agree on refreshing (src/web/client/tab-lock.ts, shared-store.ts):
 * the locks used without Web Locks, and the hand-over through IndexedDB that keeps a tab whose
 * localStorage lags behind from spending a refresh token another tab just spent.
 */
import { describe, expect, test } from 'bun:test'
import { IDBFactory } from 'fake-indexeddb'
import { sharedStoreLock, storageLock, type TabLock } from '../../../src/web/client/tab-lock'
import { indexedDbStore } from '../../../src/web/client/shared-store'
import { SESSION_KEY, SessionManager } from '../../../src/web/client/session'
import { MemoryStorage } from '../../support/memory-storage'

describe('storageLock (no Web Locks: plain-http origins)', () => {
  test('tabs sharing one storage run their critical sections one at a time', async () => {
    const storage = new MemoryStorage()
    const tabs = Array.from({ length: 4 }, () => storageLock({ storage, key: 'k', settleMs: 5 }))
    let inside = 0
    let most = 0
    const order: number[] = []
    await Promise.all(
      tabs.flatMap((lock, tab) =>
        [0, 1].map(() =>
          lock(async () => {
            most = Math.max(most, ++inside)
            await Bun.sleep(3)
            order.push(tab)
            inside--
          }),
        ),
      ),
    )
    expect(most).toBe(1)
    expect(order.length).toBe(8)
    expect(storage.getItem('k')).toBeNull() // released
  })

  test('a lock left by a tab that vanished expires with its lease', async () => {
    const storage = new MemoryStorage()
    storage.setItem('k', JSON.stringify({ owner: 'closed-tab', until: Date.now() + 50 }))
    const lock = storageLock({ storage, key: 'k', settleMs: 5 })
    expect(await lock(async () => 'got it')).toBe('got it')
  })

  test('an error inside releases the lock', async () => {
    const storage = new MemoryStorage()
    const lock = storageLock({ storage, key: 'k', settleMs: 5 })
    await expect(lock(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    expect(storage.getItem('k')).toBeNull()
    expect(await lock(async () => 1)).toBe(1)
  })

  test('three tabs refreshing at once spend the refresh token once; the others adopt the result', async () => {
    const storage = new MemoryStorage()
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const jwt = (tag: string) => `${b64({ alg: 'HS256' })}.${b64({ iat: 1000, exp: 1900, tag })}.sig`
    storage.setItem(
      SESSION_KEY,
      JSON.stringify({
        user: { id: 'u' },
        accessToken: jwt('a'),
        refreshToken: 'r0',
        expiresIn: 900,
        obtainedAt: Date.now(),
      }),
    )
    const presented: string[] = []
    const fetch = async (_url: string, init?: RequestInit) => {
      presented.push(JSON.parse(String(init?.body)).refreshToken)
      await Bun.sleep(10)
      return Response.json({
        accessToken: jwt(`n${presented.length}`),
        refreshToken: `r${presented.length}`,
        expiresIn: 900,
      })
    }
    // No navigator.locks under bun: each manager gets the localStorage lock, as a plain-http tab would.
    const tabs = Array.from({ length: 3 }, () => new SessionManager({ storage, fetch }))
    const tokens = await Promise.all(tabs.map((t) => t.refresh()))
    expect(presented).toEqual(['r0'])
    expect(new Set(tokens)).toEqual(new Set([jwt('n1')]))
    for (const t of tabs) t.dispose()
  })
})

describe('IndexedDB: the lock and the hand-over between tabs', () => {
  test('sharedStoreLock: tabs with their own connections to one database never overlap', async () => {
    const idb = new IDBFactory()
    const tabs = Array.from({ length: 4 }, () => sharedStoreLock({ store: indexedDbStore('t', idb)!, key: 'lock' }))
    let inside = 0
    let most = 0
    let done = 0
    await Promise.all(
      tabs.flatMap((lock) =>
        [0, 1].map(() =>
          lock(async () => {
            most = Math.max(most, ++inside)
            await Bun.sleep(2)
            inside--
            done++
          }),
        ),
      ),
    )
    expect({ most, done }).toEqual({ most: 1, done: 8 })
    expect(await indexedDbStore('t', idb)!.get('lock')).toBeUndefined() // released
  })

  test('a live holder keeps the lock past its lease (renewed); a vanished one loses it after the lease', async () => {
    const idb = new IDBFactory()
    const [a, b] = [
      sharedStoreLock({ store: indexedDbStore('r', idb)!, key: 'lock', leaseMs: 60 }),
      sharedStoreLock({ store: indexedDbStore('r', idb)!, key: 'lock', leaseMs: 60 }),
    ]
    const events: string[] = []
    let release!: () => void
    const held = a(() => new Promise<void>((resolve) => ((release = resolve), events.push('a in'))))
    await Bun.sleep(20)
    const waiting = b(async () => void events.push('b in'))
    await Bun.sleep(250) // four leases: a renews, so b still waits
    expect(events).toEqual(['a in'])
    release()
    await Promise.all([held, waiting])
    expect(events).toEqual(['a in', 'b in'])
    // A tab that closed while holding the lock: its record is taken over once the lease ran out.
    await indexedDbStore('r', idb)!.put('lock', { owner: 'closed-tab', until: Date.now() + 60 })
    expect(await b(async () => 'taken over')).toBe('taken over')
  })

  test('a reloaded tab takes over the lock its previous page left mid-refresh, without waiting out the lease', async () => {
    const idb = new IDBFactory()
    const store = indexedDbStore('reload', idb)!
    await store.put('lock', { owner: 'tab1.oldload', until: Date.now() + 60_000 })
    const reloaded = sharedStoreLock({
      store,
      key: 'lock',
      owner: { me: 'tab1.newload', isEarlierLoadOfThisTab: (o) => o.startsWith('tab1.') && o !== 'tab1.newload' },
    })
    expect(await reloaded(async () => 'mine')).toBe('mine')
    // Another tab's live lock is still respected.
    const until = Date.now() + 150
    await store.put('lock', { owner: 'tab2.x', until })
    expect(await reloaded(async () => Date.now() >= until)).toBe(true) // ran only once that lease was over
  })

  test('a tab whose localStorage still shows the spent tokens adopts the handed-over ones instead of spending them again', async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const jwt = (tag: string) => `${b64({ alg: 'HS256' })}.${b64({ iat: 1000, exp: 1900, tag })}.sig`
    const initial = JSON.stringify({
      user: { id: 'u' },
      accessToken: jwt('a'),
      refreshToken: 'r0',
      expiresIn: 900,
      obtainedAt: Date.now() - 1000,
    })
    // Each tab has its own copy of localStorage (another renderer process) that never catches up here.
    const [storageA, storageB] = [new MemoryStorage(), new MemoryStorage()]
    storageA.setItem(SESSION_KEY, initial)
    storageB.setItem(SESSION_KEY, initial)
    // One lock for both (as Web Locks would be), and one IndexedDB.
    const one = storageLock({ storage: new MemoryStorage(), key: 'l', settleMs: 1 })
    const withLock: TabLock = (fn) => one(fn)
    const idb = new IDBFactory()
    const presented: string[] = []
    const fetch = async (_url: string, init?: RequestInit) => {
      presented.push(JSON.parse(String(init?.body)).refreshToken)
      return Response.json({
        accessToken: jwt(`n${presented.length}`),
        refreshToken: `r${presented.length}`,
        expiresIn: 900,
      })
    }
    const a = new SessionManager({ storage: storageA, fetch, withLock, shared: indexedDbStore('s', idb) })
    const b = new SessionManager({ storage: storageB, fetch, withLock, shared: indexedDbStore('s', idb) })
    expect(await a.refresh()).toBe(jwt('n1'))
    expect(await b.refresh()).toBe(jwt('n1'))
    expect(presented).toEqual(['r0'])
    expect(b.session!.refreshToken).toBe('r1')
    // Without the hand-over the lagging tab would have presented r0 again (a reuse: everyone signed out).
    const c = new SessionManager({
      storage: Object.assign(new MemoryStorage(), { map: new Map([[SESSION_KEY, initial]]) }),
      fetch,
      withLock,
      shared: null,
    })
    await c.refresh()
    expect(presented).toEqual(['r0', 'r0'])
    for (const m of [a, b, c]) m.dispose()
  })
})

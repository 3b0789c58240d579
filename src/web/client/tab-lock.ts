/**
 * One lock shared by every tab of the origin, so two tabs never spend one refresh token (a spent
 * token presented again ends the whole session, RFC 9700 §4.14.2). Web Locks when the browser
 * has them; they exist only in secure contexts (https:, or http://localhost / 127.0.0.1), and a
 * self-hosted server is often opened as plain http://192.168.x.y — there a lock record updated
 * atomically in IndexedDB stands in (or, without IndexedDB, one in localStorage).
 */
import type { SharedStore } from './shared-store'

export type TabLock = <T>(fn: () => Promise<T>) => Promise<T>

export interface StorageLockDeps {
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>
  /** localStorage key of the lock record. */
  key: string
  now?: () => number
  sleep?: (ms: number) => Promise<void>
  random?: () => number
  /** How long a claim must stand before it is trusted (other tabs' writes arrive asynchronously). */
  settleMs?: number
  /** A holder that vanished (tab closed or reloaded mid-refresh) loses the lock this long after its last renewal. */
  leaseMs?: number
}

/** Lease of a lock record; its holder renews it every third of that while it works. */
const DEFAULT_LEASE_MS = 5_000

/** Keeps renewing a held lock until `stop()`: a live holder never loses it, a vanished one soon does. */
function keepRenewing(renew: () => unknown, leaseMs: number): () => void {
  const timer = setInterval(renew, leaseMs / 3)
  return () => clearInterval(timer)
}

interface LockRecord {
  owner: string
  until: number
}

function read(storage: StorageLockDeps['storage'], key: string): LockRecord | undefined {
  try {
    const value = JSON.parse(storage.getItem(key) ?? 'null')
    return value && typeof value.owner === 'string' && typeof value.until === 'number' ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * A mutex in localStorage: claim the free lock, wait for other tabs' racing claims to land, and
 * go ahead only if the claim is still ours (the last writer wins everywhere). Fair enough for a
 * refresh every few minutes; the caller re-reads the stored session inside the lock anyway, so a
 * tab that comes second adopts the first one's tokens instead of refreshing again.
 */
export function storageLock(deps: StorageLockDeps): TabLock {
  const me = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
  const now = deps.now ?? (() => Date.now())
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  const random = deps.random ?? Math.random
  const settleMs = deps.settleMs ?? 120
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS
  let queue: Promise<unknown> = Promise.resolve()

  async function acquire() {
    for (;;) {
      const held = read(deps.storage, deps.key)
      if (held && held.owner !== me && held.until > now()) {
        await sleep(40 + random() * 60)
        continue
      }
      deps.storage.setItem(deps.key, JSON.stringify({ owner: me, until: now() + leaseMs }))
      await sleep(settleMs)
      if (read(deps.storage, deps.key)?.owner === me) return
      await sleep(random() * 60) // lost the race: back off a little and look again
    }
  }

  return <T>(fn: () => Promise<T>) => {
    // Within this tab, one at a time as well.
    const run = queue.then(async () => {
      await acquire()
      const stop = keepRenewing(() => {
        if (read(deps.storage, deps.key)?.owner === me)
          deps.storage.setItem(deps.key, JSON.stringify({ owner: me, until: now() + leaseMs }))
      }, leaseMs)
      try {
        return await fn()
      } finally {
        stop()
        if (read(deps.storage, deps.key)?.owner === me) deps.storage.removeItem(deps.key)
      }
    })
    queue = run.catch(() => {})
    return run
  }
}

/**
 * Who holds a lock: `<tab>.<page load>`. The tab part survives a reload (sessionStorage), so a
 * reloaded tab knows a lock left by its own previous page — cut off mid-refresh by the reload —
 * is dead and need not wait out its lease. A tab duplicated by the browser copies sessionStorage,
 * so only a reload keeps the tab part; any other load takes a new one.
 */
export function lockOwner(): { me: string; isEarlierLoadOfThisTab(owner: string): boolean } {
  const random = () => Math.random().toString(36).slice(2, 10)
  let tab = random()
  try {
    const session = (globalThis as any).sessionStorage as Storage | undefined
    const navigation = (globalThis as any).performance?.getEntriesByType?.('navigation')?.[0]?.type
    const kept = session?.getItem('chat-tab-id')
    if (kept && navigation === 'reload') tab = kept
    else session?.setItem('chat-tab-id', tab)
  } catch {}
  const me = `${tab}.${random()}`
  return { me, isEarlierLoadOfThisTab: (owner) => owner !== me && owner.startsWith(`${tab}.`) }
}

/**
 * A mutex on an IndexedDB record: claiming it is a compare-and-set in one readwrite transaction,
 * which IndexedDB runs one at a time across tabs, so two tabs can never both hold it.
 */
export function sharedStoreLock(deps: {
  store: SharedStore
  key: string
  leaseMs?: number
  sleep?: (ms: number) => Promise<void>
  now?: () => number
  fallback?: TabLock
  owner?: ReturnType<typeof lockOwner>
}): TabLock {
  const owner = deps.owner ?? {
    me: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
    isEarlierLoadOfThisTab: () => false,
  }
  const me = owner.me
  const now = deps.now ?? (() => Date.now())
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS
  let queue: Promise<unknown> = Promise.resolve()

  async function acquire() {
    for (;;) {
      const claimed = await deps.store.update<LockRecord>(deps.key, (held) =>
        held && held.owner !== me && held.until > now() && !owner.isEarlierLoadOfThisTab(held.owner)
          ? undefined
          : { owner: me, until: now() + leaseMs },
      )
      if (claimed) return
      await sleep(30 + Math.random() * 40)
    }
  }

  return <T>(fn: () => Promise<T>) => {
    const run = queue.then(async () => {
      try {
        await acquire()
      } catch (error) {
        // IndexedDB refused (storage disabled, quota…): the weaker lock is better than none.
        if (deps.fallback) return deps.fallback(fn)
        throw error
      }
      const stop = keepRenewing(
        () =>
          deps.store
            .update<LockRecord>(deps.key, (held) =>
              held?.owner === me ? { owner: me, until: now() + leaseMs } : undefined,
            )
            .catch(() => {}),
        leaseMs,
      )
      try {
        return await fn()
      } finally {
        stop()
        await deps.store.update<LockRecord>(deps.key, (held) => (held?.owner === me ? null : undefined)).catch(() => {})
      }
    })
    queue = run.catch(() => {})
    return run
  }
}

/** Web Locks where available, else the IndexedDB lock, else the localStorage lock. */
export function tabLock(name: string, storage: StorageLockDeps['storage'], shared?: SharedStore): TabLock {
  const locks = (globalThis as any).navigator?.locks
  if (locks?.request) return (fn) => locks.request(name, fn)
  const inStorage = storageLock({ storage, key: `${name}-lock` })
  return shared
    ? sharedStoreLock({ store: shared, key: `${name}-lock`, fallback: inStorage, owner: lockOwner() })
    : inStorage
}

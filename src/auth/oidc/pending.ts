/** Sign-ins started and not yet back from the provider: what only this process may know of them. */

/** How long a started sign-in may take at the provider. */
export const PENDING_TTL_MS = 10 * 60 * 1000
/** Most sign-ins in flight at once; the oldest are dropped beyond it. */
export const PENDING_MAX = 10_000

export interface PendingLogin {
  codeVerifier: string
  nonce: string
  /** SHA-256 (hex) of the browser binding secret held in the cookie. */
  bindingHash: string
  /** Set when a signed-in user started this to link the identity to their account. */
  linkUserId?: string
  expiresAt: number
}

/** Started sign-ins, keyed by state: in memory, expiring, capped. */
export function pendingLogins(opts: { ttlMs?: number; max?: number; now?: () => number } = {}) {
  const ttlMs = opts.ttlMs ?? PENDING_TTL_MS
  const max = opts.max ?? PENDING_MAX
  const now = opts.now ?? Date.now
  const map = new Map<string, PendingLogin>()

  function sweep() {
    const t = now()
    for (const [state, p] of map) if (p.expiresAt <= t) map.delete(state)
  }
  const timer = setInterval(sweep, 60_000)
  timer.unref?.()

  return {
    ttlMs,
    put(state: string, login: Omit<PendingLogin, 'expiresAt'>) {
      if (map.size >= max) sweep()
      // Still full: drop the oldest (Map keeps insertion order); its user simply starts again.
      while (map.size >= max) map.delete(map.keys().next().value!)
      map.set(state, { ...login, expiresAt: now() + ttlMs })
    },
    /** The live record (tests tamper with it); undefined when unknown or expired. */
    get(state: string): PendingLogin | undefined {
      const p = map.get(state)
      if (p && p.expiresAt <= now()) {
        map.delete(state)
        return undefined
      }
      return p
    },
    delete(state: string) {
      map.delete(state)
    },
    get size() {
      return map.size
    },
    close() {
      clearInterval(timer)
      map.clear()
    },
  }
}

export type PendingLogins = ReturnType<typeof pendingLogins>

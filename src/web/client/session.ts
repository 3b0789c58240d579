import type { StoredSession, User } from './types'
import { tabLock } from './tab-lock'
import { indexedDbStore, type SharedStore } from './shared-store'

/** The localStorage key shared with the OIDC callback page. */
export const SESSION_KEY = 'chat-session'
/** Why the last session ended ('logout' | 'expired'), so every tab can say so, not just the one that saw it. */
const ENDED_KEY = 'chat-session-ended'
const LOCK_NAME = 'chat-session-refresh'
/** The key of the newest session in the shared store (IndexedDB). */
const SHARED_KEY = 'session'

export type SessionChange =
  | { kind: 'token'; session: StoredSession }
  | { kind: 'signed-out'; reason: 'logout' | 'expired' }

export interface SessionDeps {
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>
  fetch: (input: string, init?: RequestInit) => Promise<Response>
  now?: () => number
  /**
   * Where the refreshing tab hands its result to the next lock holder (IndexedDB): localStorage
   * alone may still show the spent tokens to a tab in another process. `null`: none.
   */
  shared?: SharedStore | null
  /** Runs `fn` while holding a cross-tab lock (Web Locks, else a localStorage lock), so two tabs never spend one refresh token twice. */
  withLock?: <T>(fn: () => Promise<T>) => Promise<T>
  setTimeout?: (fn: () => void, ms: number) => unknown
  clearTimeout?: (id: any) => void
}

/** obtainedAt in epoch ms (a value in seconds is converted). */
function obtainedMs(s: StoredSession): number {
  const t = Number(s.obtainedAt) || 0
  return t < 1e12 ? t * 1000 : t
}

/**
 * The lifetime the access token itself states (`exp - iat`, in seconds), when it is a JWT. Only
 * the difference is used, so a skewed client clock doesn't matter; the payload is not trusted for
 * anything else.
 */
function jwtLifeSeconds(token: string): number | undefined {
  try {
    const part = token.split('.')[1]
    if (!part) return undefined
    const json = JSON.parse(
      atob(
        part
          .replace(/-/g, '+')
          .replace(/_/g, '/')
          .padEnd(Math.ceil(part.length / 4) * 4, '='),
      ),
    )
    const life = Number(json.exp) - Number(json.iat)
    return Number.isFinite(life) && life > 0 ? life : undefined
  } catch {
    return undefined
  }
}

/** Life in seconds: what the server said, or less if the token says so. */
function lifeSeconds(s: StoredSession): number {
  const said = Math.max(1, Number(s.expiresIn) || 0)
  return Math.min(said, jwtLifeSeconds(s.accessToken) ?? said)
}

export function expiresAtMs(s: StoredSession): number {
  return obtainedMs(s) + lifeSeconds(s) * 1000
}

/**
 * How long before expiry the token is refreshed: 40% of its life, at most a minute, and at least
 * 1.5 s — a JWT's `exp` is in whole seconds, so a token may really live up to 1 s less than
 * `expiresIn` says, and the refresh round trip needs time too.
 */
function leadMs(s: StoredSession): number {
  const life = lifeSeconds(s) * 1000
  return Math.min(60_000, Math.max(1_500, life * 0.4), life * 0.6)
}

function parse(raw: string | null): StoredSession | undefined {
  if (!raw) return undefined
  try {
    const value = JSON.parse(raw)
    if (value && typeof value.accessToken === 'string' && typeof value.refreshToken === 'string') {
      return { ...value, expiresIn: Number(value.expiresIn) || 900, obtainedAt: Number(value.obtainedAt) || 0 }
    }
  } catch {}
  return undefined
}

/**
 * The signed-in session: access + refresh token kept in localStorage, refreshed shortly before
 * the access token expires (and on demand after a 401), shared with other tabs through the
 * `storage` event and a Web Lock around each refresh.
 */
export class SessionManager {
  #session: StoredSession | undefined
  #listeners = new Set<(change: SessionChange) => void>()
  #inflight: Promise<string | undefined> | undefined
  #timer: unknown
  #retries = 0
  readonly #deps: Required<SessionDeps>

  constructor(deps: SessionDeps) {
    const shared = deps.shared === undefined ? indexedDbStore() : deps.shared
    this.#deps = {
      now: () => Date.now(),
      withLock: tabLock(LOCK_NAME, deps.storage, shared ?? undefined),
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (id) => clearTimeout(id),
      ...deps,
      shared: shared ?? null,
    }
    this.#session = parse(this.#deps.storage.getItem(SESSION_KEY))
    this.#schedule()
  }

  get session(): StoredSession | undefined {
    return this.#session
  }
  get user(): User | undefined {
    return this.#session?.user
  }
  get accessToken(): string | undefined {
    return this.#session?.accessToken
  }
  get expiresAt(): number | undefined {
    return this.#session && expiresAtMs(this.#session)
  }

  onChange(fn: (change: SessionChange) => void): () => void {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }

  #emit(change: SessionChange) {
    for (const fn of [...this.#listeners]) {
      try {
        fn(change)
      } catch (error) {
        console.error(error)
      }
    }
  }

  /** The session to store for fresh tokens (a login, register or refresh answer), stamped now. */
  #stamped(user: User, tokens: { accessToken: string; refreshToken: string; expiresIn: number }): StoredSession {
    return {
      user,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresIn: tokens.expiresIn,
      obtainedAt: this.#deps.now(),
    }
  }

  /** Stores a fresh login/register answer. */
  signIn(answer: { user: User; accessToken: string; refreshToken: string; expiresIn: number }) {
    const session = this.#stamped(answer.user, answer)
    void this.#deps.shared?.put(SHARED_KEY, session).catch(() => {})
    this.#adopt(session, true)
  }

  /** The newest of the session in localStorage and the one handed over in the shared store. */
  async #newestStored(): Promise<StoredSession | undefined> {
    const local = parse(this.#deps.storage.getItem(SESSION_KEY))
    let handed: StoredSession | undefined
    try {
      handed = parse(JSON.stringify((await this.#deps.shared?.get(SHARED_KEY)) ?? null))
    } catch {}
    if (!local) return undefined // signed out (in this or another tab)
    return handed && handed.user?.id === local.user?.id && obtainedMs(handed) > obtainedMs(local) ? handed : local
  }

  #adopt(session: StoredSession, persist: boolean) {
    this.#session = session
    this.#retries = 0
    if (persist) this.#deps.storage.setItem(SESSION_KEY, JSON.stringify(session))
    this.#schedule()
    this.#emit({ kind: 'token', session })
  }

  /** Forgets the session locally (and in every tab). */
  clear(reason: 'logout' | 'expired' = 'logout') {
    const had = this.#session !== undefined
    this.#session = undefined
    this.#deps.clearTimeout(this.#timer)
    this.#deps.storage.setItem(ENDED_KEY, reason)
    this.#deps.storage.removeItem(SESSION_KEY)
    void this.#deps.shared?.delete(SHARED_KEY).catch(() => {})
    if (had) this.#emit({ kind: 'signed-out', reason })
  }

  /** Called with the `storage` event: another tab refreshed, signed in or signed out. */
  syncFromStorage() {
    const stored = parse(this.#deps.storage.getItem(SESSION_KEY))
    if (!stored) {
      if (this.#session) {
        this.#session = undefined
        this.#deps.clearTimeout(this.#timer)
        this.#emit({
          kind: 'signed-out',
          reason: this.#deps.storage.getItem(ENDED_KEY) === 'expired' ? 'expired' : 'logout',
        })
      }
      return
    }
    if (stored.accessToken !== this.#session?.accessToken) this.#adopt(stored, false)
  }

  /** A token that is valid for at least a little while, refreshing first when it is about to expire. */
  async freshToken(minValidityMs = 1_000): Promise<string | undefined> {
    const s = this.#session
    if (!s) return undefined
    if (expiresAtMs(s) - this.#deps.now() > minValidityMs) return s.accessToken
    return this.refresh()
  }

  /**
   * Spends the refresh token for a new pair. Single-flight within the tab and locked across tabs:
   * when another tab already refreshed (the stored access token changed), its tokens are adopted.
   */
  refresh(): Promise<string | undefined> {
    if (this.#inflight) return this.#inflight
    const seen = this.#session?.accessToken
    this.#inflight = this.#deps
      .withLock(async () => {
        const stored = (await this.#newestStored()) ?? this.#session
        if (!stored) {
          this.clear('expired')
          return undefined
        }
        if (stored.accessToken !== seen && expiresAtMs(stored) - this.#deps.now() > leadMs(stored)) {
          // Another tab refreshed already: take its tokens (into localStorage too, if it lags).
          this.#adopt(stored, parse(this.#deps.storage.getItem(SESSION_KEY))?.accessToken !== stored.accessToken)
          return stored.accessToken
        }
        let res: Response
        try {
          res = await this.#deps.fetch('/api/auth/refresh', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ refreshToken: stored.refreshToken }),
          })
        } catch {
          this.#retryLater()
          return expiresAtMs(stored) > this.#deps.now() ? stored.accessToken : undefined
        }
        if (res.ok) {
          const body = (await res.json()) as { accessToken: string; refreshToken: string; expiresIn: number }
          const next = this.#stamped(stored.user, body)
          // Handed over before the lock is released: the next holder reads it whatever localStorage shows.
          await this.#deps.shared?.put(SHARED_KEY, next).catch(() => {})
          this.#adopt(next, true)
          return body.accessToken
        }
        if (res.status === 400 || res.status === 401 || res.status === 403) {
          this.clear('expired')
          return undefined
        }
        this.#retryLater() // 429/5xx: keep the session, try again soon
        return expiresAtMs(stored) > this.#deps.now() ? stored.accessToken : undefined
      })
      .finally(() => {
        this.#inflight = undefined
      })
    return this.#inflight
  }

  #retryLater() {
    this.#deps.clearTimeout(this.#timer)
    const delay = Math.min(30_000, 1_000 * 2 ** this.#retries++)
    this.#timer = this.#deps.setTimeout(() => void this.refresh(), delay)
  }

  #schedule() {
    this.#deps.clearTimeout(this.#timer)
    const s = this.#session
    if (!s) return
    const delay = Math.max(0, expiresAtMs(s) - leadMs(s) - this.#deps.now())
    // Browsers clamp timers above 2^31-1 ms; a token that long-lived is refreshed on use anyway.
    if (delay > 2 ** 31 - 1) return
    this.#timer = this.#deps.setTimeout(() => void this.refresh(), delay)
  }

  /**
   * The server says the socket's token expires at `expiresAt` (epoch ms). When the session already
   * holds a later token nothing needs to happen (the socket is re-authenticated on every change);
   * otherwise refresh now.
   */
  async onTokenExpiring(expiresAt: number): Promise<void> {
    const s = this.#session
    if (!s) return
    if (expiresAtMs(s) > expiresAt + 500) return
    // With very short token lives the server warns right at authentication; the refresh timer
    // (at 80% of the life) handles those, so a warning never causes a refresh storm.
    if (this.#deps.now() < obtainedMs(s) + (expiresAtMs(s) - obtainedMs(s)) / 2) return
    await this.refresh()
  }

  dispose() {
    this.#deps.clearTimeout(this.#timer)
    this.#listeners.clear()
  }
}

/** Epoch ms from a wire timestamp: unix seconds, epoch ms or an ISO string. */
export function toEpochMs(value: number | string | undefined): number {
  if (typeof value === 'number') return value < 1e12 ? value * 1000 : value
  if (typeof value === 'string') {
    const n = Number(value)
    if (Number.isFinite(n)) return toEpochMs(n)
    const t = Date.parse(value)
    if (Number.isFinite(t)) return t
  }
  return 0
}

import type { Role } from '../../context/user-context'
import type { UsersRepository } from '../../db/repositories/users'
import { UnauthorizedError } from '../../http/errors'
import { log } from '../../log'
import type { RefreshTokenStore } from '../refresh-tokens'
import {
  RevocationView,
  type EndAllCode,
  type SessionChange,
  type SessionVerdict,
  type TokenSession,
  type UserState,
} from './view'

export type { SessionChange, SessionVerdict, EndAllCode } from './view'

export interface SessionsDeps {
  users: Pick<UsersRepository, 'sessionState' | 'endSessionsBefore' | 'setDisabled' | 'setRole' | 'sessionChangesSince'>
  refresh: Pick<RefreshTokenStore, 'revokeFamily' | 'revokeAllOf' | 'revokeOthersOf' | 'revokedSince'>
  /** Access-token lifetime: a revoked family is remembered this long. */
  accessTokenTtlSeconds: number
  /** Cluster mode: tells the other processes (Redis pub/sub). */
  broadcast?: (change: SessionChange) => void
  /**
   * How often the database is read for changes made elsewhere — by `bun run admin` from another
   * process, or missed broadcasts — in ms (0: never). Two indexed range reads, not per request.
   */
  pollMs?: number
}

/** Changes are read again this far back on each poll: writers' clocks and slow commits. */
const POLL_OVERLAP_MS = 3000

/**
 * Sessions end at once (PROTOCOL.md §5). Every change is written to the database first, then
 * applied to this process's in-memory view and broadcast to the others, then the listeners (the
 * WebSocket layer) are told so they can close what just ended. Checking a token costs no
 * database read except the first time a process sees a user (their state is then kept).
 */
export function sessionsService(deps: SessionsDeps) {
  const view = new RevocationView(deps.accessTokenTtlSeconds * 1000)
  const loading = new Map<string, { promise: Promise<UserState | undefined>; pending: SessionChange[] }>()
  /** Told a user id after a change to that user, undefined after a resync (everyone). */
  const listeners = new Set<(userId: string | undefined) => void>()
  /** Bumped by resync: loads started before it are not stored. */
  let generation = 0
  const sweeper = setInterval(() => view.sweep(), 60_000)
  sweeper.unref?.()
  let poller: ReturnType<typeof setInterval> | undefined
  let polling = false
  let familiesSeen = 0
  let usersSeen = 0

  /** Applies what the database says changed since the last poll; tells the listeners. */
  async function poll() {
    if (polling) return
    polling = true
    try {
      const changed = new Set<string>()
      for (const family of await deps.refresh.revokedSince(familiesSeen - POLL_OVERLAP_MS)) {
        familiesSeen = Math.max(familiesSeen, family.revokedAt)
        if (view.isFamilyRevoked(family.id)) continue
        view.revokeFamily(family.id, family.revokedAt)
        changed.add(family.userId)
      }
      for (const row of await deps.users.sessionChangesSince(usersSeen - POLL_OVERLAP_MS)) {
        usersSeen = Math.max(usersSeen, row.sessionsChangedAt)
        const state = view.user(row.id)
        if (!state || state.deleted) continue // not loaded here: read fresh when first needed
        if (row.sessionsChangedAt < state.changedAt) continue // read before a change applied here since
        const validAfter = Math.max(state.validAfter, row.sessionsValidAfter ?? 0)
        if (state.role === row.role && state.disabled === row.disabled && state.validAfter === validAfter) continue
        view.setUser(row.id, {
          role: row.role,
          disabled: row.disabled,
          validAfter,
          endCode: row.disabled
            ? 'account_disabled'
            : validAfter === state.validAfter
              ? state.endCode
              : 'session_revoked',
          deleted: false,
          changedAt: row.sessionsChangedAt,
        })
        changed.add(row.id)
      }
      for (const userId of changed) notify(userId)
    } finally {
      polling = false
    }
  }

  async function load(userId: string): Promise<UserState | undefined> {
    const cached = view.user(userId)
    if (cached) return cached
    const inflight = loading.get(userId)
    if (inflight) return inflight.promise
    const gen = generation
    const entry = { pending: [] as SessionChange[], promise: undefined as unknown as Promise<UserState | undefined> }
    entry.promise = (async () => {
      try {
        const row = await deps.users.sessionState(userId)
        const state: UserState = row
          ? {
              role: row.role,
              disabled: row.disabled,
              validAfter: row.sessionsValidAfter ?? 0,
              endCode: row.disabled ? 'account_disabled' : 'session_revoked',
              deleted: false,
              changedAt: row.sessionsChangedAt ?? 0,
            }
          : { role: 'member', disabled: false, validAfter: 0, endCode: 'session_revoked', deleted: true, changedAt: 0 }
        if (gen !== generation) return state
        view.setUser(userId, state)
        // Changes that arrived while reading: the row may predate them (applying again is harmless).
        for (const change of entry.pending) view.apply(change)
        return state
      } finally {
        loading.delete(userId)
      }
    })()
    loading.set(userId, entry)
    return entry.promise
  }

  function notify(userId: string | undefined) {
    for (const listener of listeners) {
      try {
        listener(userId)
      } catch (error) {
        log.error('session listener failed', { error: String(error) })
      }
    }
  }

  /** Applies a change here (from this process or another) and tells the listeners. */
  function apply(change: SessionChange) {
    view.apply(change)
    loading.get(change.userId)?.pending.push(change)
    notify(change.userId)
  }

  function publish(change: SessionChange) {
    apply(change)
    deps.broadcast?.(change)
  }

  return {
    /** Loads the families revoked within one token life (start, and after a Redis outage); starts polling. */
    async start() {
      const now = Date.now()
      const since = now - deps.accessTokenTtlSeconds * 1000 - 1000
      for (const family of await deps.refresh.revokedSince(since)) view.revokeFamily(family.id, family.revokedAt)
      familiesSeen = Math.max(familiesSeen, now)
      usersSeen = Math.max(usersSeen, now)
      const every = deps.pollMs ?? 500
      if (every > 0 && !poller) {
        poller = setInterval(
          () => void poll().catch((error) => log.debug('session poll failed', { error: String(error) })),
          every,
        )
        poller.unref?.()
      }
    },

    /** Reads the database for changes now (the poller does this every `pollMs`). */
    poll,

    /** Forgets what might be stale (missed broadcasts while Redis was down) and reloads. */
    async resync() {
      generation++
      view.clearUsers()
      await this.start()
      notify(undefined)
    },

    /** The verdict for a verified token: ok with the user's current role, or the 401's code. */
    async check(token: TokenSession): Promise<SessionVerdict> {
      const state = view.user(token.userId) ?? (await load(token.userId))
      return view.check(token, state)
    },

    /** `check`, throwing the 401 the HTTP routes answer with. */
    async require(token: TokenSession): Promise<{ role: Role }> {
      const verdict = await this.check(token)
      if (!verdict.ok)
        throw new UnauthorizedError(
          verdict.code,
          verdict.code === 'account_disabled'
            ? 'this account is disabled; ask an admin'
            : 'this session has ended; sign in again',
        )
      return { role: verdict.role }
    },

    /** Logout, refresh-token reuse: that sign-in's tokens stop working. */
    async endFamily(userId: string, familyId: string, reason = 'logout') {
      await deps.refresh.revokeFamily(familyId, reason)
      publish({ op: 'family', userId, familyId, at: Date.now() })
    },

    /** Admin sign-out, disable, delete, password change: every session of the user ends. */
    async endAll(userId: string, code: EndAllCode) {
      const at = Date.now()
      if (code !== 'account_deleted') {
        await deps.users.endSessionsBefore(userId, at)
        await deps.refresh.revokeAllOf(userId, code)
      }
      publish({ op: 'all', userId, at, code })
    },

    /**
     * Every sign-in of the user but `keepFamilyId` ends (password change: "your other sessions
     * end"); the caller's own session goes on.
     */
    async endOthers(userId: string, keepFamilyId: string) {
      const at = Date.now()
      for (const familyId of await deps.refresh.revokeOthersOf(userId, keepFamilyId, 'password_changed'))
        publish({ op: 'family', userId, familyId, at })
    },

    /** Disabling also ends every session (re-enabling does not bring them back). */
    async setDisabled(userId: string, disabled: boolean) {
      const at = Date.now()
      await deps.users.setDisabled(userId, disabled)
      if (disabled) {
        await deps.users.endSessionsBefore(userId, at)
        await deps.refresh.revokeAllOf(userId, 'account_disabled')
      }
      publish({ op: 'disabled', userId, disabled, at })
    },

    /** Live sessions carry the new role from the next request on. */
    async setRole(userId: string, role: Role) {
      await deps.users.setRole(userId, role)
      publish({ op: 'role', userId, role, at: Date.now() })
    },

    /** A change broadcast by another process. */
    applyRemote(change: SessionChange) {
      apply(change)
    },

    /** Told the user id after every change (undefined: anyone may have changed), to close what ended (WebSockets). */
    onChange(listener: (userId: string | undefined) => void): () => void {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },

    get size() {
      return view.size
    },

    close() {
      clearInterval(sweeper)
      clearInterval(poller)
      listeners.clear()
    },
  }
}

export type SessionsService = ReturnType<typeof sessionsService>

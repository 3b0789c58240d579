import type { Role } from '../../context/user-context'

/** Why a session ended, as the 401's code (PROTOCOL.md §5). */
export type EndCode = 'session_revoked' | 'account_disabled'
/** What ended all of a user's sessions; a deleted account answers `session_revoked`. */
export type EndAllCode = EndCode | 'account_deleted'

/** A change to the view, applied here and (cluster mode) on every other process. */
export type SessionChange =
  | { op: 'family'; userId: string; familyId: string; at: number }
  | { op: 'all'; userId: string; at: number; code: EndAllCode }
  | { op: 'disabled'; userId: string; disabled: boolean; at: number }
  | { op: 'role'; userId: string; role: Role; at: number }

export interface UserState {
  role: Role
  disabled: boolean
  /** Access tokens issued before this (ms) are void. */
  validAfter: number
  /** The code those void tokens get. */
  endCode: EndCode
  deleted: boolean
  /** When the state last changed (ms): a database row older than this is stale. */
  changedAt: number
}

export type SessionVerdict = { ok: true; role: Role } | { ok: false; code: EndCode }

/** What a token says about its session (from AccessClaims). */
export interface TokenSession {
  userId: string
  familyId?: string
  issuedAtMs: number
}

/**
 * The in-memory revocation view: revoked sign-ins (refresh families) until their last access
 * token has expired, and per user a "valid after" time, a disabled flag and the current role.
 * A pure data structure: loading and sharing live in ./service.ts.
 */
export class RevocationView {
  /** familyId → when it can be forgotten (its newest access token has expired by then). */
  readonly #families = new Map<string, number>()
  /** Most recently used last (re-inserted on use), so the oldest go first when over the cap. */
  readonly #users = new Map<string, UserState>()

  constructor(
    private readonly tokenLifeMs: number,
    private readonly maxUsers = 100_000,
  ) {}

  revokeFamily(familyId: string, at: number) {
    this.#families.set(familyId, Math.max(this.#families.get(familyId) ?? 0, at + this.tokenLifeMs + 1000))
  }

  isFamilyRevoked(familyId: string) {
    return this.#families.has(familyId)
  }

  /** Forgets families whose tokens have all expired. */
  sweep(now = Date.now()) {
    for (const [id, until] of this.#families) if (until <= now) this.#families.delete(id)
  }

  user(userId: string): UserState | undefined {
    const state = this.#users.get(userId)
    if (state) {
      this.#users.delete(userId)
      this.#users.set(userId, state)
    }
    return state
  }

  hasUser(userId: string) {
    return this.#users.has(userId)
  }

  setUser(userId: string, state: UserState) {
    this.#users.delete(userId)
    this.#users.set(userId, state)
    // Bounded: an evicted user is simply read from the database again on next use.
    while (this.#users.size > this.maxUsers) this.#users.delete(this.#users.keys().next().value!)
  }

  clearUsers() {
    this.#users.clear()
  }

  /** Applies a change to a loaded user (an unloaded one reads the database, which has it already). */
  apply(change: SessionChange) {
    if (change.op === 'family') return this.revokeFamily(change.familyId, change.at)
    const state = this.#users.get(change.userId)
    if (!state) return
    state.changedAt = Math.max(state.changedAt, change.at)
    switch (change.op) {
      case 'all':
        if (change.code === 'account_deleted') state.deleted = true
        else if (change.at >= state.validAfter) {
          state.validAfter = change.at
          state.endCode = change.code
        }
        return
      case 'disabled':
        state.disabled = change.disabled
        if (change.disabled && change.at >= state.validAfter) {
          state.validAfter = change.at
          state.endCode = 'account_disabled'
        }
        return
      case 'role':
        state.role = change.role
        return
    }
  }

  /** The verdict for a token's session; `state` is the user's loaded state (undefined: no such account). */
  check(token: TokenSession, state: UserState | undefined): SessionVerdict {
    if (!state || state.deleted) return { ok: false, code: 'session_revoked' }
    if (state.disabled) return { ok: false, code: 'account_disabled' }
    if (token.issuedAtMs < state.validAfter) return { ok: false, code: state.endCode }
    if (token.familyId && this.#families.has(token.familyId)) return { ok: false, code: 'session_revoked' }
    return { ok: true, role: state.role }
  }

  get size() {
    return { families: this.#families.size, users: this.#users.size }
  }
}

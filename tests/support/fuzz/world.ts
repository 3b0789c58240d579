/**
 * The fuzzer's picture of the world: its users, who owns which id, name and secret marker,
 * which foreign values each user has itself sent (so an echo of them is not a leak), and a small
 * model of each user's threads, notes, datasets and runs (so a foreign request that changed
 * something shows up when the owner looks next).
 */
import type { WsClient } from '../ws-client'

/** What a registered string is: a database id, a user's secret marker, a dataset name, or an account detail. */
export type TokenKind = 'id' | 'secret' | 'name' | 'account'

export interface TokenOwner {
  owner: number
  kind: TokenKind
}

/** Thrown for anything the oracle rejects; the runner prints it with the seed and the last steps. */
export class FuzzFailure extends Error {
  override name = 'FuzzFailure'
}

export interface FuzzSocket {
  client: WsClient
  /** Frames already scanned by the oracle. */
  scanned: number
  /** Set once the socket closed (by us or by the server). */
  closed: boolean
}

/** What the oracle checks about a run once it has finished (from its events over HTTP). */
export interface RunExpectation {
  /** The tool call the run was told to make, and whether it must succeed. */
  tool: string
  ok: boolean
  /** When ok: text the tool's result must contain (the owner's own marker proves it read their data). */
  resultIncludes?: string
  /** search_documents: every passage and every citation must be of the user's own documents. */
  ownDocuments?: boolean
  /** The actor's datasets version when the chat was sent: a later upload or delete voids a dataset expectation. */
  datasetsVersion?: number
}

export interface RunModel {
  threadId: string
  expect?: RunExpectation
  finished: boolean
  /** Its thread was deleted (the run, its events and messages went with it). */
  deleted?: boolean
}

export interface ThreadModel {
  title: string
  /** Archived threads leave the default list (`GET /api/threads?archived=true` shows them). */
  archived?: boolean
}

/** A share link: the public snapshot as first read, which must never change while it lives. */
export interface ShareModel {
  threadId: string
  snapshot?: string
}

/** What a user holds of one kind of resource: the live ones by id, and the ids deleted since. */
export interface Kept<T> {
  live: Map<string, T>
  deleted: Set<string>
}

const kept = <T>(): Kept<T> => ({ live: new Map(), deleted: new Set() })

export interface FuzzUser {
  index: number
  hostile: boolean
  id: string
  email: string
  password: string
  /** `secret-<index>-<random>`: in every piece of content this user writes; nobody else ever sends it. */
  marker: string
  /** `dsname-<index>-<random>`: prefix of this user's dataset names (others may name them in requests). */
  nameTag: string
  accessToken: string
  /** undefined once the session's family was revoked and a new login was refused (rate limit). */
  refreshToken: string | undefined
  /** Refresh tokens rotated away in the current session's family (replaying one revokes it). */
  spentRefreshTokens: string[]
  /** Access tokens this user held before its latest refresh or login (still unexpired). */
  oldAccessTokens: string[]
  /** Spent or revoked refresh tokens of the user's earlier, ended sessions. */
  staleRefreshTokens: string[]
  sockets: FuzzSocket[]
  threads: Map<string, ThreadModel>
  deletedThreads: Set<string>
  notes: Kept<{ title: string }>
  datasets: Kept<{ name: string }>
  /** Bumped on every upload or delete of this user's datasets. */
  datasetsVersion: number
  runs: Map<string, RunModel>
  /** Message ids this user has seen in its threads → their thread (for leaf, parentId and regenerate). */
  messages: Map<string, string>
  shares: Map<string, ShareModel>
  /** Revoked shares, and shares of deleted threads. */
  goneShares: Set<string>
  documents: Kept<{ name: string }>
  /** `docword<index><random>`: a word only this user's documents contain. */
  docWord: string
  /** Live API keys: id → secret. */
  keys: Map<string, string>
  /** Revoked API keys: id → secret. */
  revokedKeys: Map<string, string>
  /** Foreign tokens this user put into a request itself: seeing them echoed back is not a leak. */
  sent: Set<string>
  /** The first account is the admin; everyone else is a member. */
  admin: boolean
  /** A counter for unique content. */
  serial: number
}

const randomTag = () => Math.random().toString(36).slice(2, 10)

export class World {
  readonly users: FuzzUser[] = []
  /**
   * An account that never acts: wrong-password attempts go against it, so login back-off never
   * locks out a user the fuzzer still needs to sign in again.
   */
  decoy: FuzzUser | undefined
  readonly tokens = new Map<string, TokenOwner>()
  /** Problems found outside a request (e.g. by the scripted model): failed at the next check. */
  readonly violations: string[] = []
  /** Operation name → outcome → count. */
  readonly counts = new Map<string, Map<string, number>>()
  /** The most recent steps, printed with a failure. */
  readonly recent: string[] = []

  own(token: string, owner: number, kind: TokenKind) {
    const known = this.tokens.get(token)
    if (known && known.owner !== owner)
      throw new FuzzFailure(`${kind} ${token} of user ${owner} was already seen as user ${known.owner}'s ${known.kind}`)
    if (!known) this.tokens.set(token, { owner, kind })
  }

  ownerOf(token: string): TokenOwner | undefined {
    return this.tokens.get(token)
  }

  /**
   * The actor puts `token` into a request: a foreign one joins the actor's `sent` set (an echo of
   * it is fine), an unknown one (a made-up id) becomes the actor's.
   */
  send(actor: FuzzUser, token: string) {
    const known = this.tokens.get(token)
    if (!known) this.tokens.set(token, { owner: actor.index, kind: 'id' })
    else if (known.owner !== actor.index) actor.sent.add(token)
  }

  addUser(input: {
    id: string
    email: string
    password: string
    accessToken: string
    refreshToken: string
    hostile: boolean
  }): FuzzUser {
    const index = this.users.length
    const user: FuzzUser = {
      index,
      hostile: input.hostile,
      id: input.id,
      email: input.email,
      password: input.password,
      marker: `secret-${index}-${randomTag()}`,
      nameTag: `dsname-${index}-${randomTag()}`,
      accessToken: input.accessToken,
      refreshToken: input.refreshToken,
      spentRefreshTokens: [],
      staleRefreshTokens: [],
      oldAccessTokens: [],
      sockets: [],
      threads: new Map(),
      deletedThreads: new Set(),
      notes: kept(),
      datasets: kept(),
      datasetsVersion: 0,
      runs: new Map(),
      messages: new Map(),
      shares: new Map(),
      goneShares: new Set(),
      documents: kept(),
      docWord: `docword${index}${randomTag()}`,
      keys: new Map(),
      revokedKeys: new Map(),
      sent: new Set(),
      serial: 0,
      admin: index === 0,
    }
    this.users.push(user)
    this.registerAccount(user)
    return user
  }

  /** Makes `user` the decoy: its account is known (and foreign to everyone), but it never acts. */
  makeDecoy(user: FuzzUser) {
    this.users.splice(this.users.indexOf(user), 1)
    this.decoy = user
  }

  private registerAccount(user: FuzzUser) {
    const index = user.index
    this.own(user.id, index, 'account')
    this.own(user.email.toLowerCase(), index, 'account')
    this.own(user.marker, index, 'secret')
  }

  /** Remembers message ids the user saw in one of its threads (the last 60). */
  seeMessages(user: FuzzUser, threadId: string, ids: string[]) {
    for (const id of ids) {
      user.messages.delete(id)
      user.messages.set(id, threadId)
    }
    for (const id of user.messages.keys()) {
      if (user.messages.size <= 60) break
      user.messages.delete(id)
    }
  }

  /** Replaces the user's access token, keeping the last few old ones for replays. */
  newAccessToken(user: FuzzUser, token: string) {
    user.oldAccessTokens.push(user.accessToken)
    if (user.oldAccessTokens.length > 5) user.oldAccessTokens.shift()
    user.accessToken = token
  }

  /** A fresh piece of this user's content: `<marker>-<n>`. */
  content(user: FuzzUser, what = 'text'): string {
    return `${user.marker}-${++user.serial} ${what}`
  }

  count(op: string, outcome: string) {
    let byOutcome = this.counts.get(op)
    if (!byOutcome) this.counts.set(op, (byOutcome = new Map()))
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1)
  }

  remember(line: string) {
    this.recent.push(line)
    if (this.recent.length > 30) this.recent.shift()
  }

  openSockets(user: FuzzUser): FuzzSocket[] {
    return user.sockets.filter((s) => !s.closed)
  }

  /** Total operations counted so far. */
  operations(): number {
    let n = 0
    for (const byOutcome of this.counts.values()) for (const c of byOutcome.values()) n += c
    return n
  }
}

import { AsyncLocalStorage } from 'node:async_hooks'

export type Role = 'admin' | 'member'
type Cleanup = () => void | Promise<void>

export interface UserContextInit {
  userId: string
  role: Role
  requestId?: string
  runId?: string
  connectionId?: string
  metadata?: Record<string, unknown>
  /** Aborting this aborts the context's own signal. */
  signal?: AbortSignal
}

let nextContextId = 0

/**
 * Who is acting, and the lifetime of what they started. One is made for every request,
 * connection, run and tool call; children inherit the user and metadata, know their parent
 * and count their depth. Disposal runs cleanups in reverse and aborts the context's signal.
 */
export class UserContext {
  readonly id: string
  readonly userId: string
  readonly role: Role
  readonly requestId?: string
  readonly runId?: string
  readonly connectionId?: string
  readonly metadata: Readonly<Record<string, unknown>>
  readonly depth: number
  readonly parent?: UserContext
  readonly #abort = new AbortController()
  #cleanups: Cleanup[] = []
  #disposed = false
  #unlinkFromParent?: () => void

  constructor(init: UserContextInit, parent?: UserContext) {
    this.id = `ctx_${++nextContextId}`
    this.userId = init.userId
    this.role = init.role
    this.requestId = init.requestId
    this.runId = init.runId
    this.connectionId = init.connectionId
    this.metadata = Object.freeze({ ...init.metadata })
    this.parent = parent
    this.depth = parent ? parent.depth + 1 : 0
    if (init.signal) this.#follow(init.signal)
  }

  get signal(): AbortSignal {
    return this.#abort.signal
  }

  get disposed(): boolean {
    return this.#disposed
  }

  /**
   * A context for a sub-operation (a tool call, a model call): same user, inherited ids and
   * metadata (overridable), depth + 1, aborted with the parent, and disposed with it if
   * still alive then.
   */
  child(overrides: Partial<Omit<UserContextInit, 'userId' | 'role'>> = {}): UserContext {
    if (this.#disposed) throw new Error('cannot create a child of a disposed context')
    const child = new UserContext(
      {
        userId: this.userId,
        role: this.role,
        requestId: overrides.requestId ?? this.requestId,
        runId: overrides.runId ?? this.runId,
        connectionId: overrides.connectionId ?? this.connectionId,
        metadata: { ...this.metadata, ...overrides.metadata },
        signal: overrides.signal,
      },
      this,
    )
    child.#follow(this.signal)
    const disposeChild = () => child.dispose()
    this.#cleanups.push(disposeChild)
    // Once the child is gone, the parent must not keep it alive through its cleanup list.
    child.#unlinkFromParent = () => {
      const i = this.#cleanups.indexOf(disposeChild)
      if (i >= 0) this.#cleanups.splice(i, 1)
    }
    return child
  }

  onDispose(cleanup: Cleanup): void {
    if (this.#disposed) throw new Error('context already disposed')
    this.#cleanups.push(cleanup)
  }

  /** Runs cleanups newest first; a failing cleanup does not stop the others. */
  async dispose(): Promise<void> {
    if (this.#disposed) return
    this.#disposed = true
    this.#unlinkFromParent?.()
    this.#unlinkFromParent = undefined
    if (!this.#abort.signal.aborted) this.#abort.abort(new Error('context disposed'))
    const cleanups = this.#cleanups.reverse()
    this.#cleanups = []
    const errors: unknown[] = []
    for (const cleanup of cleanups) {
      try {
        await cleanup()
      } catch (error) {
        errors.push(error)
      }
    }
    if (errors.length) throw new AggregateError(errors, 'context cleanup failed')
  }

  /** Runs `fn` with this as the active context. */
  run<T>(fn: () => T): T {
    return storage.run({ context: this }, fn)
  }

  #follow(signal: AbortSignal) {
    if (signal.aborted) return this.#abort.abort(signal.reason)
    const onAbort = () => this.#abort.abort(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    this.#cleanups.push(() => signal.removeEventListener('abort', onAbort))
  }
}

/** The store is a slot so an HTTP request can fill it once its token is verified. */
interface ContextSlot {
  context: UserContext | undefined
}

const storage = new AsyncLocalStorage<ContextSlot>()

export class MissingUserContextError extends Error {
  constructor() {
    super('no user context is active: this code must run inside runAsUser()')
  }
}

/** Listeners told when code asks for the user outside any context (the isolation guard). */
const guardListeners = new Set<(error: MissingUserContextError) => void>()
export function onIsolationGuard(listener: (error: MissingUserContextError) => void): () => void {
  guardListeners.add(listener)
  return () => guardListeners.delete(listener)
}

export function createUserContext(init: UserContextInit): UserContext {
  return new UserContext(init)
}

export function runAsUser<T>(context: UserContext, fn: () => T): T {
  return context.run(fn)
}

/** The active context; throws outside one and never falls back to anybody. */
export function currentContext(): UserContext {
  const context = storage.getStore()?.context
  if (!context) {
    const error = new MissingUserContextError()
    for (const listener of guardListeners) listener(error)
    throw error
  }
  return context
}

export function currentUser(): { userId: string; role: Role } {
  const { userId, role } = currentContext()
  return { userId, role }
}

export function maybeCurrentContext(): UserContext | undefined {
  return storage.getStore()?.context
}

/**
 * Opens an empty slot for the rest of the current HTTP request. Elysia gives no way to wrap a
 * handler, so the request hook enters a slot synchronously and the auth macro fills it; each
 * request has its own slot object, so concurrent requests never share one.
 */
export function enterRequestSlot(): ContextSlot {
  const slot: ContextSlot = { context: undefined }
  storage.enterWith(slot)
  return slot
}

/** Runs `fn` with no active context (for system work that must not act as any user). */
export function runWithoutUser<T>(fn: () => T): T {
  return storage.run({ context: undefined }, fn)
}

import { LlmError } from './errors'

/**
 * A fair queue per model in front of Ollama.
 *
 * Ollama answers a limited number of requests per model at a time (one by default), so when
 * the slots of a model are taken, further requests wait here. Waiting requests are served
 * round-robin across users, least recently served user first: a user who never got the model
 * (or has nothing of theirs in flight or queued) goes ahead of a user whose requests were just
 * served. A user with 20 queued requests therefore delays another user's single request by at
 * most the slot already in use. Within one user, requests keep their order.
 *
 * Queues are capped per user (`too_many_runs`) and in all (`server_busy`): a request over a
 * cap is refused with a clear error, never dropped silently. A waiting request whose
 * AbortSignal fires leaves the queue at once.
 */
export interface SchedulerOptions {
  /**
   * Requests of one model served at the same time: a number, or a function asked each time a
   * slot could be handed out (the provider shrinks it while hosts are down). Call `pump()`
   * when what the function answers may have grown.
   */
  slots: number | ((model: string) => number)
  /** Requests one user may have waiting, over all models. */
  maxQueuedPerUser: number
  /** Requests that may wait in all. */
  maxQueued: number
  /**
   * Milliseconds between two passes that tell waiters their improved places (default 0: one
   * pass per event-loop turn, however many grants it saw). A pass costs O(waiting requests),
   * so with N waiters the reports cost O(N) per interval in total, not O(N) per grant. A new
   * waiter hears its first place within a tenth of the interval.
   */
  reportIntervalMs?: number
}

export interface AcquireRequest {
  model: string
  userId: string
  signal?: AbortSignal
  /** Told when the request has to wait (position 1 = next), and again whenever it moves up. */
  onQueued?: (position: number) => void
}

/** A held slot. `release()` is idempotent; the slot goes to the next waiting request. */
export interface Lease {
  readonly model: string
  readonly userId: string
  release(): void
}

interface Waiter {
  seq: number
  request: AcquireRequest
  resolve: (lease: Lease) => void
  reject: (error: unknown) => void
  onAbort?: () => void
  reported: number
}

/** One user's share of one model: what waits, what runs, when they were last served. */
interface UserLane {
  userId: string
  waiting: Waiter[]
  inFlight: number
  /** Grant counter value of the last slot this user got for the model (0 = never). */
  lastGrant: number
}

interface ModelQueue {
  lanes: Map<string, UserLane>
  inFlight: number
  waiting: number
}

export class FairScheduler {
  readonly #models = new Map<string, ModelQueue>()
  readonly #queuedPerUser = new Map<string, number>()
  #queued = 0
  #inFlight = 0
  #seq = 0
  #grants = 0
  /** Models whose waiters' places may have changed since the last report pass. */
  readonly #moved = new Set<string>()
  /** A waiter not yet told its first place is waiting. */
  #newcomers = false
  #reportTimer: ReturnType<typeof setTimeout> | undefined
  #reportDue = Number.POSITIVE_INFINITY
  #lastPass = Number.NEGATIVE_INFINITY

  constructor(private readonly options: SchedulerOptions) {}

  /** Requests holding a slot, over all models. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Requests holding a slot of one model. */
  inFlightOf(model: string): number {
    return this.#models.get(model)?.inFlight ?? 0
  }

  /** Requests waiting for one model. */
  depth(model: string): number {
    return this.#models.get(model)?.waiting ?? 0
  }

  /** Waiting requests per model (models with none waiting are left out). */
  depths(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [model, queue] of this.#models) if (queue.waiting > 0) out[model] = queue.waiting
    return out
  }

  /** Requests waiting in all. */
  get queued(): number {
    return this.#queued
  }

  /** Requests one user has waiting, over all models. */
  queuedOf(userId: string): number {
    return this.#queuedPerUser.get(userId) ?? 0
  }

  #capacity(model: string): number {
    const { slots } = this.options
    return Math.max(0, typeof slots === 'number' ? slots : slots(model))
  }

  #queue(model: string): ModelQueue {
    let queue = this.#models.get(model)
    if (!queue) this.#models.set(model, (queue = { lanes: new Map(), inFlight: 0, waiting: 0 }))
    return queue
  }

  #lane(queue: ModelQueue, userId: string): UserLane {
    let lane = queue.lanes.get(userId)
    if (!lane) queue.lanes.set(userId, (lane = { userId, waiting: [], inFlight: 0, lastGrant: 0 }))
    return lane
  }

  /** Nothing per user or per model outlives its last request. */
  #tidy(model: string, queue: ModelQueue, userId: string) {
    const lane = queue.lanes.get(userId)
    if (lane && lane.inFlight === 0 && lane.waiting.length === 0) queue.lanes.delete(userId)
    if (queue.lanes.size === 0 && queue.inFlight === 0 && queue.waiting === 0) this.#models.delete(model)
  }

  /**
   * Waits for a slot of `request.model`. Resolves at once when one is free and nobody waits;
   * rejects with `too_many_runs` / `server_busy` over the caps, and with the signal's reason
   * when it aborts while waiting.
   */
  acquire(request: AcquireRequest): Promise<Lease> {
    const { model, userId, signal } = request
    if (signal?.aborted) return Promise.reject(signal.reason)
    const queue = this.#queue(model)
    if (queue.waiting === 0 && queue.inFlight < this.#capacity(model)) {
      return Promise.resolve(this.#grant(model, queue, this.#lane(queue, userId)))
    }
    const mine = this.queuedOf(userId)
    if (mine >= this.options.maxQueuedPerUser) {
      this.#tidy(model, queue, userId)
      return Promise.reject(
        new LlmError(
          'too_many_runs',
          `You already have ${mine} requests waiting for the model; wait for one to finish or cancel a run.`,
          429,
        ),
      )
    }
    if (this.#queued >= this.options.maxQueued) {
      this.#tidy(model, queue, userId)
      return Promise.reject(
        new LlmError(
          'server_busy',
          `The server is busy: ${this.#queued} requests are waiting for the model. Try again in a moment.`,
          503,
        ),
      )
    }

    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = { seq: ++this.#seq, request, resolve, reject, reported: Number.POSITIVE_INFINITY }
      const lane = this.#lane(queue, userId)
      lane.waiting.push(waiter)
      queue.waiting++
      this.#queued++
      this.#queuedPerUser.set(userId, mine + 1)
      if (signal) {
        waiter.onAbort = () => {
          if (this.#remove(model, queue, lane, waiter)) {
            reject(signal.reason)
            this.#moved.add(model)
            this.#scheduleReports()
          }
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      // Its first place is computed in the next pass, together with every other newcomer's:
      // a burst of N arrivals costs one O(N) pass, not N.
      this.#moved.add(model)
      this.#newcomers = true
      this.#scheduleReports()
    })
  }

  /** Runs `fn` while holding a slot; the slot is released however `fn` ends. */
  async run<T>(request: AcquireRequest, fn: () => Promise<T>): Promise<T> {
    const lease = await this.acquire(request)
    try {
      return await fn()
    } finally {
      lease.release()
    }
  }

  /** Hands out slots that became free (after the capacity function's answer grew). */
  pump(model?: string): void {
    for (const name of model === undefined ? [...this.#models.keys()] : [model]) {
      const queue = this.#models.get(name)
      if (!queue) continue
      let granted = false
      while (queue.waiting > 0 && queue.inFlight < this.#capacity(name)) {
        const lane = this.#nextLane(queue)
        if (!lane) break // a capacity callback re-entered pump() and served them
        const waiter = lane.waiting[0]
        this.#remove(name, queue, lane, waiter, false)
        waiter.resolve(this.#grant(name, queue, lane))
        granted = true
      }
      if (granted) {
        this.#moved.add(name)
        this.#scheduleReports()
      }
      this.#tidyModel(name, queue)
    }
  }

  /** Rejects every waiting request (of one model, or all) with `error`: e.g. every host is down. */
  failQueued(error: unknown, model?: string): number {
    let failed = 0
    for (const name of model === undefined ? [...this.#models.keys()] : [model]) {
      const queue = this.#models.get(name)
      if (!queue) continue
      for (const lane of [...queue.lanes.values()]) {
        for (const waiter of [...lane.waiting]) {
          this.#remove(name, queue, lane, waiter)
          waiter.reject(error)
          failed++
        }
      }
      this.#tidyModel(name, queue)
    }
    return failed
  }

  #tidyModel(model: string, queue: ModelQueue) {
    for (const userId of [...queue.lanes.keys()]) this.#tidy(model, queue, userId)
  }

  #grant(model: string, queue: ModelQueue, lane: UserLane): Lease {
    const { userId } = lane
    lane.inFlight++
    lane.lastGrant = ++this.#grants
    queue.inFlight++
    this.#inFlight++
    let released = false
    return {
      model,
      userId,
      release: () => {
        if (released) return
        released = true
        lane.inFlight--
        queue.inFlight--
        this.#inFlight--
        // A lane or model queue with a slot in flight is never tidied away, so both are still current.
        this.pump(model)
      },
    }
  }

  /** Takes a waiter out of its lane; false when it was no longer there. */
  #remove(model: string, queue: ModelQueue, lane: UserLane, waiter: Waiter, tidy = true): boolean {
    const index = lane.waiting.indexOf(waiter)
    if (index < 0) return false
    lane.waiting.splice(index, 1)
    queue.waiting--
    this.#queued--
    const userId = waiter.request.userId
    const left = (this.#queuedPerUser.get(userId) ?? 1) - 1
    if (left <= 0) this.#queuedPerUser.delete(userId)
    else this.#queuedPerUser.set(userId, left)
    if (waiter.onAbort) waiter.request.signal?.removeEventListener('abort', waiter.onAbort)
    if (tidy) this.#tidy(model, queue, userId)
    return true
  }

  /** Lanes with waiting requests, in serving order: least recently served first, then arrival. */
  #order(queue: ModelQueue): UserLane[] {
    return [...queue.lanes.values()]
      .filter((lane) => lane.waiting.length > 0)
      .sort((a, b) => a.lastGrant - b.lastGrant || a.waiting[0].seq - b.waiting[0].seq)
  }

  #nextLane(queue: ModelQueue): UserLane | undefined {
    let best: UserLane | undefined
    for (const lane of queue.lanes.values()) {
      if (lane.waiting.length === 0) continue
      if (
        !best ||
        lane.lastGrant < best.lastGrant ||
        (lane.lastGrant === best.lastGrant && lane.waiting[0].seq < best.waiting[0].seq)
      )
        best = lane
    }
    return best
  }

  /**
   * Plans the next report pass: soon (a tenth of the interval after the last pass) when a
   * newcomer waits for its first place, else a whole interval after the last pass.
   */
  #scheduleReports() {
    const interval = this.options.reportIntervalMs ?? 0
    if (interval <= 0) {
      // No interval: one pass after the current task, however many grants or arrivals it made.
      if (this.#moved.size > 0 && this.#reportDue !== 0) {
        this.#reportDue = 0
        queueMicrotask(() => this.#reportPass())
      }
      return
    }
    const due = this.#lastPass + (this.#newcomers ? interval / 10 : interval)
    if (this.#reportTimer !== undefined && this.#reportDue <= due) return
    if (this.#reportTimer !== undefined) clearTimeout(this.#reportTimer)
    this.#reportDue = due
    this.#reportTimer = setTimeout(() => this.#reportPass(), Math.max(0, due - performance.now()))
    // A pending report never keeps the process alive on its own.
    ;(this.#reportTimer as { unref?: () => void }).unref?.()
  }

  #reportPass() {
    this.#reportTimer = undefined
    this.#reportDue = Number.POSITIVE_INFINITY
    this.#lastPass = performance.now()
    this.#newcomers = false
    const models = [...this.#moved]
    this.#moved.clear()
    for (const model of models) {
      const queue = this.#models.get(model)
      if (queue && queue.waiting > 0) this.#reportPositions(queue)
    }
  }

  #report(waiter: Waiter, position: number) {
    if (position >= waiter.reported) return
    waiter.reported = position
    try {
      waiter.request.onQueued?.(position)
    } catch {}
  }

  /**
   * Tells every waiter whose place improved, in one O(waiting) walk. Serving goes in rounds:
   * each round serves one request of every lane that still has one, lanes in serving order. So
   * the k-th request of a lane (k from 0) comes after every request of the earlier rounds
   * (Σ min(len, k) over the lanes) plus one of each lane ahead of it that has more than k.
   */
  #reportPositions(queue: ModelQueue) {
    let lanes = this.#order(queue)
    let before = 0
    for (let k = 0; lanes.length > 0; k++) {
      for (let i = 0; i < lanes.length; i++) this.#report(lanes[i].waiting[k], before + i + 1)
      before += lanes.length
      lanes = lanes.filter((lane) => lane.waiting.length > k + 1)
    }
  }
}

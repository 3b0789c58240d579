import type { EventBus } from '../runs/bus'
import type { RunEvent } from '../protocol'

/**
 * The events of one run as they are delivered: the same bus publish the user's WebSockets get,
 * so a /v1 caller sees exactly what the UI sees. Subscribe before starting the run and call
 * `follow(runId)` when it is accepted (before its first event is published).
 */
export class RunEventStream {
  #runId: string | undefined
  #queue: RunEvent[] = []
  #wake: (() => void) | undefined
  #ended = false
  readonly #unsubscribe: () => void

  constructor(bus: Pick<EventBus, 'subscribe'>, userId: string) {
    this.#unsubscribe = bus.subscribe((owner, entry) => {
      if (owner !== userId || entry.event.runId !== this.#runId || this.#ended) return
      this.#queue.push(entry.event)
      if (entry.event.type === 'agent_completed') this.close()
      this.#wake?.()
    })
  }

  follow(runId: string) {
    this.#runId = runId
  }

  /** Stops listening; events already queued are still read. */
  close() {
    if (this.#ended) return
    this.#ended = true
    this.#unsubscribe()
    this.#wake?.()
  }

  /** The next event, or undefined once the run completed (or the stream was closed). */
  async next(): Promise<RunEvent | undefined> {
    while (this.#queue.length === 0) {
      if (this.#ended) return undefined
      await new Promise<void>((resolve) => (this.#wake = resolve))
      this.#wake = undefined
    }
    return this.#queue.shift()
  }
}

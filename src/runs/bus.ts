import type { EventPublisher, JournalEntry } from './journal'

export type BusHandler = (userId: string, entry: JournalEntry) => void

/**
 * The seam between a run's journal and the connections that show it. In one process it is a
 * direct call; in cluster mode a Redis bus carries events to every process.
 */
export interface EventBus extends EventPublisher {
  subscribe(handler: BusHandler): () => void
  close(): Promise<void>
}

export class LocalBus implements EventBus {
  readonly #handlers = new Set<BusHandler>()

  publish(userId: string, entry: JournalEntry): void {
    for (const handler of this.#handlers) handler(userId, entry)
  }

  subscribe(handler: BusHandler) {
    this.#handlers.add(handler)
    return () => void this.#handlers.delete(handler)
  }

  async close() {
    this.#handlers.clear()
  }
}

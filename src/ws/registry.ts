import type { JournalEntry } from '../runs/journal'
import { Connection, type DeliveryStats } from './connection'

/**
 * The open connections of each user on this process. Events are delivered by user id, so a
 * run's events reach every connection of its owner and nobody else's.
 */
export class ConnectionRegistry {
  readonly #byUser = new Map<string, Set<Connection>>()
  readonly stats: DeliveryStats = { sent: 0, duplicatesDropped: 0, slowClosed: 0, failed: 0 }
  #count = 0

  add(connection: Connection) {
    let set = this.#byUser.get(connection.userId)
    if (!set) this.#byUser.set(connection.userId, (set = new Set()))
    if (!set.has(connection)) {
      set.add(connection)
      this.#count++
    }
  }

  remove(connection: Connection) {
    const set = this.#byUser.get(connection.userId)
    if (set?.delete(connection)) {
      this.#count--
      // Nothing per user outlives the user's last connection.
      if (set.size === 0) this.#byUser.delete(connection.userId)
    }
  }

  /**
   * Runs the deliveries of one stored batch of events (the journal's `deliverBatch`, given by
   * app.ts): each connection's frames are written corked when `deliverAll` returns.
   */
  deliverBatch(deliverAll: () => void): void {
    Connection.batch(deliverAll)
  }

  deliver(userId: string, entry: JournalEntry) {
    const set = this.#byUser.get(userId)
    if (!set) return
    for (const connection of set) connection.deliver(entry)
  }

  connectionsOf(userId: string): ReadonlySet<Connection> {
    return this.#byUser.get(userId) ?? new Set()
  }

  get size() {
    return this.#count
  }

  get users() {
    return this.#byUser.size
  }

  all(): Connection[] {
    return [...this.#byUser.values()].flatMap((s) => [...s])
  }
}

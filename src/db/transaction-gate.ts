import type { Client } from '@libsql/client'

/** The client calls that borrow a connection. */
const BORROWING = new Set<PropertyKey>(['execute', 'batch', 'migrate', 'transaction', 'executeMultiple'])

/**
 * Lets an interactive transaction hold the client's one local connection while everyone else
 * waits for it. `@libsql/client` refuses any call made while a transaction holds its single
 * connection (TRANSACTION_ACTIVE) instead of queueing it; the group commit
 * (src/db/group-commit.ts) needs such a transaction, so every other caller goes through
 * `client` here, which waits while `hold` runs. `hold`'s own work uses the raw client.
 */
export function transactionGate(raw: Client): { client: Client; hold<T>(fn: () => Promise<T>): Promise<T> } {
  let held: Promise<unknown> | undefined
  const client = new Proxy(raw, {
    // The client keeps its state in private fields: its methods and getters run on the target.
    get(target, key) {
      const value = Reflect.get(target, key)
      if (typeof value !== 'function') return value
      if (!BORROWING.has(key)) return value.bind(target)
      return async (...args: unknown[]) => {
        while (held) await held.catch(() => {})
        return value.apply(target, args)
      }
    },
  })
  return {
    client,
    async hold(fn) {
      while (held) await held.catch(() => {})
      const running = fn()
      held = running
      try {
        return await running
      } finally {
        if (held === running) held = undefined
      }
    },
  }
}

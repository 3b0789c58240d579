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
  const wrapped = new Map<PropertyKey, unknown>()
  const client = new Proxy(raw, {
    // The client keeps its state in private fields: its methods and getters run on the target.
    get(target, key) {
      const value = Reflect.get(target, key)
      if (typeof value !== 'function') return value
      let fn = wrapped.get(key)
      if (!fn) {
        const call = (args: unknown[]) => value.apply(target, args)
        const waitThenCall = async (args: unknown[]) => {
          while (held) await held.catch(() => {})
          return call(args)
        }
        // Straight through while nothing is held (the usual case): no extra promise per call.
        fn = BORROWING.has(key) ? (...args: unknown[]) => (held ? waitThenCall(args) : call(args)) : value.bind(target)
        wrapped.set(key, fn)
      }
      return fn
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

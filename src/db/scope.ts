import { currentUser } from '../context/user-context'

/**
 * The user every scoped repository reads and writes for: the active context's user. Outside a
 * context this throws (and trips the isolation guard) rather than reading anybody's rows.
 */
export function ownerId(): string {
  return currentUser().userId
}

export const newId = () => Bun.randomUUIDv7()
export const iso = (ms: number) => new Date(ms).toISOString()

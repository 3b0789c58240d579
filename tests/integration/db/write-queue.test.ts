import { describe, expect, test } from 'bun:test'
import { useDatabases } from '../../support/db'
import { createUserContext, maybeCurrentContext, runAsUser } from '../../../src/context/user-context'

const databases = useDatabases()

/** The one in-process write queue: order, the urgent lane for run events, errors, contexts. */
describe('write queue', () => {
  test('an urgent write goes ahead of the ordinary writes waiting, and each lane keeps its order', async () => {
    const database = await databases.open()
    const order: string[] = []
    const { promise: gate, resolve: open } = Promise.withResolvers<void>()
    const first = database.write(async () => {
      order.push('running')
      await gate
    })
    const ordinary = ['n1', 'n2', 'n3'].map((label) =>
      database.write(async (db) => (order.push(label), db.run('SELECT 1'))),
    )
    const urgent = ['u1', 'u2'].map((label) => database.write(async () => void order.push(label), { urgent: true }))
    expect(database.writes.pending).toBe(6)
    open()
    await Promise.all([first, ...ordinary, ...urgent])
    expect(order).toEqual(['running', 'u1', 'u2', 'n1', 'n2', 'n3'])
    expect(database.writes.pending).toBe(0)
  })

  test('a failing write rejects its caller only; the queue goes on', async () => {
    const database = await databases.open()
    const failed = database.write(async (db) => db.run('INSERT INTO no_such_table VALUES (1)'))
    const after = database.write(async () => 'next')
    await expect(failed).rejects.toThrow()
    await expect(after).resolves.toBe('next')
  })

  test("each write runs in its caller's user context, whoever drains the queue", async () => {
    const database = await databases.open()
    const { promise: gate, resolve: open } = Promise.withResolvers<void>()
    const seen: (string | undefined)[] = []
    const a = createUserContext({ userId: 'user-a', role: 'member' })
    const b = createUserContext({ userId: 'user-b', role: 'member' })
    const writes = [
      runAsUser(a, () => database.write(async () => (seen.push(maybeCurrentContext()?.userId), gate))),
      runAsUser(b, () => database.write(async () => void seen.push(maybeCurrentContext()?.userId))),
      database.write(async () => void seen.push(maybeCurrentContext()?.userId), { urgent: true }),
    ]
    open()
    await Promise.all(writes)
    expect(seen).toEqual(['user-a', undefined, 'user-b'])
  })
})

import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { useChatStack } from '../../support/fixtures'

setDefaultTimeout(30_000)

const stack = useChatStack({ env: { JOURNAL_GRACE_MS: '200' } })

describe('memory bounds', () => {
  test("finished runs' journals leave memory after the grace period; per-user state goes with the last connection and run", async () => {
    const { runtime } = stack.server
    const users = await Promise.all([stack.userWithSocket('a'), stack.userWithSocket('b')])
    const runs = await Promise.all(
      users.flatMap(({ ws }) => [ws.chat('one'), ws.chat('two')].map((p) => p.then((r) => ({ ws, ...r })))),
    )
    await Promise.all(runs.map(({ ws, runId }) => ws.completion(runId)))
    expect(runtime.runs.active.size).toBe(0)
    expect(runtime.runs.journalsInMemory).toBe(4) // kept for resumes…
    await Bun.sleep(400)
    expect(runtime.runs.journalsInMemory).toBe(0) // …then gone; the database serves them
    expect(runtime.registry.users).toBe(2)
    for (const { ws } of users) ws.close()
    await Promise.all(users.map(({ ws }) => ws.closed))
    await Bun.sleep(50)
    expect(runtime.registry.users).toBe(0)
    expect(runtime.registry.size).toBe(0)
  })
})

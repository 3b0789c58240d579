import { createDbUsers, openTestDatabase, type TestDatabase } from './db'
import { notesRepository } from '../../src/db/repositories/notes'
import { datasetsRepository } from '../../src/db/repositories/datasets'
import { notesService } from '../../src/notes/service'
import { datasetsService } from '../../src/datasets/service'
import { builtinTools } from '../../src/tools'
import { createToolDispatcher } from '../../src/tools/dispatcher'
import type { UserView } from '../../src/db/repositories/users'

/**
 * The user-data services and the built-in tools' dispatcher over a fresh temp-file database,
 * wired as `createServices` wires them, without an HTTP server.
 */
export async function openToolStack(opts: { users?: number; timeoutMs?: number; now?: () => Date } = {}) {
  const db: TestDatabase = await openTestDatabase()
  const notes = notesService(notesRepository(db.database))
  const datasets = datasetsService(datasetsRepository(db.database))
  const tools = createToolDispatcher(builtinTools({ notes, datasets, messages: db.repos.messages, now: opts.now }), {
    timeoutMs: opts.timeoutMs ?? 5000,
  })
  const users: UserView[] = await createDbUsers(db.database, opts.users ?? 2)
  return { db, notes, datasets, tools, users, close: () => db.close() }
}

export type ToolStack = Awaited<ReturnType<typeof openToolStack>>

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Client, createClient } from '@libsql/client'
import { drizzle } from 'drizzle-orm/libsql'
import { migrate } from 'drizzle-orm/libsql/migrator'
import { type Database, openDatabase } from '../../src/db/client'

const MIGRATIONS = join(import.meta.dir, '../../db/migrations')

export interface OldDatabase {
  /** The `file:` URL, for `openDatabase` to migrate the rest of the way. */
  url: string
  /** A plain client on it, to write rows as the older version did; closed by `remove`. */
  client: Client
  /** Closes the client and deletes the folder. */
  remove(): void
}

/**
 * A database as an older version left it: migrated by drizzle's own migrator up to and
 * including `lastTag` (a file name in db/migrations without `.sql`), in a temp folder. Tests of
 * a migration write rows through `client`, then open it with `openDatabase`, which applies the
 * migrations after `lastTag`.
 */
export async function openOldDatabase(lastTag: string): Promise<OldDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-old-db-'))
  const folder = join(dir, 'migrations')
  cpSync(MIGRATIONS, folder, { recursive: true })
  const journalPath = join(folder, 'meta/_journal.json')
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] }
  const last = journal.entries.findIndex((e) => e.tag === lastTag)
  if (last < 0) throw new Error(`no migration ${lastTag}`)
  journal.entries = journal.entries.slice(0, last + 1)
  writeFileSync(journalPath, JSON.stringify(journal))
  const url = `file:${join(dir, 'chat.db')}`
  const client = createClient({ url })
  await migrate(drizzle(client), { migrationsFolder: folder })
  return {
    url,
    client,
    remove() {
      client.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * A migration's test in one call: a database as the version of `lastTag` left it, `seed` (SQL
 * statements) written by that version, then opened by this one (the later migrations applied);
 * `check` reads the result. Everything is closed and removed afterwards, pass or fail.
 */
export async function migratedFrom(
  lastTag: string,
  seed: string,
  check: (database: Database) => Promise<void>,
): Promise<void> {
  const old = await openOldDatabase(lastTag)
  try {
    await old.client.executeMultiple(seed)
    old.client.close()
    const database = await openDatabase(old.url)
    try {
      await check(database)
    } finally {
      database.close()
    }
  } finally {
    old.remove()
  }
}

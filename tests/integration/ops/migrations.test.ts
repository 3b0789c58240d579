/**
 * Operations safety: pending migrations go in one transaction (a failing one leaves the file as
 * it was), a database written by a newer version is refused untouched (by the real entry point
 * too), databases migrated by drizzle's own migrator carry on, and SIGHUP changes nothing.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createClient } from '@libsql/client'
import { drizzle } from 'drizzle-orm/libsql'
import { migrate } from 'drizzle-orm/libsql/migrator'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { openDatabase } from '../../../src/db/client'
import { DatabaseTooNewError, MIGRATIONS_TABLE, MigrationError, readMigrations } from '../../../src/db/migrations'
import { spawnServer } from '../../support/child-server'

setDefaultTimeout(30_000)

const migrationsFolder = resolve(import.meta.dir, '../../../db/migrations')
const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

/** Everything that tells one database state from another: schema, migrations and a data row. */
async function snapshot(url: string) {
  const client = createClient({ url })
  try {
    const schema = (await client.execute('SELECT type, name, sql FROM sqlite_master ORDER BY type, name')).rows.map(
      (r) => [r.type, r.name, r.sql],
    )
    const applied = (
      await client.execute(`SELECT hash, created_at FROM "${MIGRATIONS_TABLE}" ORDER BY created_at`)
    ).rows.map((r) => [r.hash, Number(r.created_at)])
    const users = (await client.execute('SELECT id, email FROM users ORDER BY id')).rows.map((r) => [r.id, r.email])
    return { schema, applied, users }
  } finally {
    client.close()
  }
}

/** A database at the current version with one user in it. */
async function currentDatabase() {
  const dir = tempDir('chat-migrate-')
  const url = `file:${join(dir, 'chat.db')}`
  const database = await openDatabase(url)
  await database.client.execute({
    sql: "INSERT INTO users (id, email, name, role) VALUES ('u1', 'kept@example.com', 'Kept', 'admin')",
    args: [],
  })
  database.close()
  return { dir, url }
}

/** A copy of db/migrations plus extra migrations (each `[tag, sql]`), dated after the real ones. */
function migrationsWith(extra: [string, string][]) {
  const folder = tempDir('chat-migrations-')
  cpSync(migrationsFolder, folder, { recursive: true })
  const journalPath = join(folder, 'meta', '_journal.json')
  const journal = JSON.parse(readFileSync(journalPath, 'utf8'))
  let when = Math.max(...journal.entries.map((e: any) => e.when))
  for (const [tag, sql] of extra) {
    writeFileSync(join(folder, `${tag}.sql`), sql)
    journal.entries.push({ idx: journal.entries.length, version: '6', when: ++when, tag, breakpoints: true })
  }
  writeFileSync(journalPath, JSON.stringify(journal, null, 2))
  return folder
}

describe('migrations', () => {
  test('a failing migration rolls back every pending one and leaves the database as it was', async () => {
    const { url } = await currentDatabase()
    const before = await snapshot(url)
    const folder = migrationsWith([
      ['0098_fine', 'CREATE TABLE `fine_table` (`x` integer);'],
      [
        '0099_broken',
        "ALTER TABLE `users` ADD `extra` text;\n--> statement-breakpoint\nINSERT INTO users (id, email, name) VALUES ('u2', 'new@example.com', 'New');\n--> statement-breakpoint\nCREATE TABLE `broken` (`x` integer REFERENCES;",
      ],
    ])
    let error: unknown
    await openDatabase(url, undefined, { migrationsFolder: folder }).then(
      (db) => db.close(),
      (e) => (error = e),
    )
    expect(error).toBeInstanceOf(MigrationError)
    expect((error as Error).message).toContain('0099_broken')
    expect((error as Error).message).toContain('as it was')
    expect(await snapshot(url)).toEqual(before)

    // Fixed, the same pending pair applies in full.
    const fixed = migrationsWith([
      ['0098_fine', 'CREATE TABLE `fine_table` (`x` integer);'],
      ['0099_broken', 'ALTER TABLE `users` ADD `extra` text;'],
    ])
    const database = await openDatabase(url, undefined, { migrationsFolder: fixed })
    database.close()
    const after = await snapshot(url)
    expect(after.applied).toHaveLength(before.applied.length + 2)
    expect(after.schema.some(([, name]) => name === 'fine_table')).toBe(true)
    expect(after.users).toEqual(before.users)
  })

  test('a database written by a newer version is refused and not changed', async () => {
    const { url } = await currentDatabase()
    const newest = Math.max(...(await readMigrations()).map((m) => m.when))
    const client = createClient({ url })
    await client.execute({
      sql: `INSERT INTO "${MIGRATIONS_TABLE}" (hash, created_at) VALUES ('from-the-future', ?)`,
      args: [newest + 86_400_000],
    })
    client.close()
    const before = await snapshot(url)
    let error: unknown
    await openDatabase(url).then(
      (db) => db.close(),
      (e) => (error = e),
    )
    expect(error).toBeInstanceOf(DatabaseTooNewError)
    expect((error as Error).message).toContain('newer version')
    expect(await snapshot(url)).toEqual(before)
  })

  test('the server process refuses to start on a newer database, with a clear message and a non-zero exit', async () => {
    const child = spawnServer({ JWT_SECRET: 'migrations-test-secret-that-is-long-enough-0123' })
    dirs.push(child.dir)
    // A first start creates the database; then a future version "upgrades" it.
    await child.url()
    child.proc.kill('SIGTERM')
    expect(await child.proc.exited).toBe(0)
    const url = `file:${join(child.dir, 'data', 'chat.db')}`
    const client = createClient({ url })
    await client.execute({
      sql: `INSERT INTO "${MIGRATIONS_TABLE}" (hash, created_at) VALUES ('from-the-future', ?)`,
      args: [Date.now() + 10 * 365 * 86_400_000],
    })
    client.close()
    const before = await snapshot(url)

    const again = spawnServer({ JWT_SECRET: 'migrations-test-secret-that-is-long-enough-0123' }, child.dir)
    const [code, stderr] = await Promise.all([again.proc.exited, new Response(again.proc.stderr).text()])
    await again.stdoutDone
    expect(code).toBe(3)
    expect(stderr).toContain('refusing to start: the database was written by a newer version')
    expect(again.lines.some((l) => l.includes('listening'))).toBe(false)
    expect(await snapshot(url)).toEqual(before)
  })

  test("a database migrated by drizzle's own migrator carries on without re-applying anything", async () => {
    const dir = tempDir('chat-migrate-drizzle-')
    const url = `file:${join(dir, 'chat.db')}`
    const client = createClient({ url })
    await migrate(drizzle(client), { migrationsFolder })
    client.close()
    const before = await snapshot(url)
    const database = await openDatabase(url)
    database.close()
    expect(await snapshot(url)).toEqual(before)
  })
})

test('SIGHUP reloads nothing and the server keeps serving', async () => {
  const child = spawnServer({ JWT_SECRET: 'migrations-test-secret-that-is-long-enough-0123' })
  dirs.push(child.dir)
  try {
    const base = await child.url()
    child.proc.kill('SIGHUP')
    const deadline = Date.now() + 20_000
    while (!child.lines.some((l) => l.includes('SIGHUP received')) && Date.now() < deadline) await Bun.sleep(20)
    expect(child.lines.find((l) => l.includes('SIGHUP received'))).toContain('nothing reloaded')
    expect(child.proc.exitCode).toBeNull()
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok' })
  } finally {
    child.proc.kill('SIGTERM')
    await child.proc.exited
  }
})

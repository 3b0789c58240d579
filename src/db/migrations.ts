import type { Client } from '@libsql/client'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { embedded } from '../embedded'
import { log } from '../log'

/**
 * Schema migrations, drizzle-kit's format (db/migrations/<tag>.sql + meta/_journal.json) and
 * drizzle's bookkeeping table, so databases migrated by earlier versions carry on. Applied by
 * our own small migrator rather than drizzle's because it must also:
 *
 * - refuse a database written by a newer version (it has migrations this build does not know,
 *   dated after the newest one it knows) before touching anything;
 * - apply every pending migration in ONE transaction: a failing statement rolls all of them
 *   back and leaves the file as it was;
 * - apply a migration that is missing even when a later one is present (branches merged in
 *   another order add migrations dated between ones already applied).
 */

export interface Migration {
  tag: string
  /** The journal's `when`: recorded as `created_at`, the migration's identity here. */
  when: number
  hash: string
  statements: string[]
}

export class DatabaseTooNewError extends Error {}
export class MigrationError extends Error {}

export const MIGRATIONS_TABLE = '__drizzle_migrations'
const defaultFolder = fileURLToPath(new URL('../../db/migrations', import.meta.url))

interface Journal {
  entries: { idx: number; when: number; tag: string }[]
}

/** The migrations of a folder, or (no folder, single-file build) the embedded ones. */
export async function readMigrations(folder?: string): Promise<Migration[]> {
  const read = async (name: string): Promise<string> => {
    const path = !folder && embedded.migrations ? embedded.migrations[name] : join(folder ?? defaultFolder, name)
    const file = path ? Bun.file(path) : undefined
    if (!file || !(await file.exists()))
      throw new MigrationError(`migration file ${name} is missing${folder ? ` in ${folder}` : ''}`)
    return file.text()
  }
  const journal = JSON.parse(await read('meta/_journal.json')) as Journal
  const migrations: Migration[] = []
  for (const entry of [...journal.entries].sort((a, b) => a.when - b.when)) {
    const text = await read(`${entry.tag}.sql`)
    migrations.push({
      tag: entry.tag,
      when: entry.when,
      hash: new Bun.CryptoHasher('sha256').update(text).digest('hex'),
      statements: text.split('--> statement-breakpoint').filter((s) => s.trim() !== ''),
    })
  }
  return migrations
}

/** What is recorded as applied in the database (empty for a new file). */
async function appliedMigrations(client: Client): Promise<{ hash: string; when: number }[]> {
  const table = await client.execute({
    sql: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    args: [MIGRATIONS_TABLE],
  })
  if (table.rows.length === 0) return []
  const rows = await client.execute(`SELECT hash, created_at FROM "${MIGRATIONS_TABLE}"`)
  return rows.rows.map((r) => ({ hash: String(r.hash), when: Number(r.created_at) }))
}

/**
 * Brings the database up to `migrations`; returns the tags it applied. Throws
 * DatabaseTooNewError (nothing written) for a database of a newer version, and MigrationError
 * (everything rolled back) when a migration fails.
 */
export async function applyMigrations(client: Client, migrations: Migration[]): Promise<string[]> {
  const applied = await appliedMigrations(client)
  const known = new Set(migrations.map((m) => m.when))
  const newestKnown = Math.max(0, ...migrations.map((m) => m.when))
  const unknown = applied.filter((a) => !known.has(a.when))
  const newer = unknown.filter((a) => a.when > newestKnown)
  if (newer.length > 0) {
    throw new DatabaseTooNewError(
      `the database was written by a newer version of the server (${newer.length} migration${newer.length === 1 ? '' : 's'} this version does not know, ` +
        `the newest from ${new Date(Math.max(...newer.map((a) => a.when))).toISOString()}); start the newer version again, or restore a backup taken before the upgrade. Nothing was changed.`,
    )
  }
  if (unknown.length > 0)
    log.warn('the database records migrations this version does not have', { count: unknown.length })
  const done = new Set(applied.map((a) => a.when))
  const pending = migrations.filter((m) => !done.has(m.when))
  if (pending.length === 0) return []
  const statements = [
    `CREATE TABLE IF NOT EXISTS "${MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`,
    ...pending.flatMap((m) => [
      ...m.statements,
      { sql: `INSERT INTO "${MIGRATIONS_TABLE}" ("hash", "created_at") VALUES (?, ?)`, args: [m.hash, m.when] },
    ]),
  ]
  try {
    // One transaction (libsql's migrate: foreign keys off while the schema changes, like drizzle).
    await client.migrate(statements)
  } catch (error) {
    const index =
      typeof (error as { statementIndex?: unknown }).statementIndex === 'number'
        ? (error as { statementIndex: number }).statementIndex
        : -1
    let failed = 'a migration'
    for (let i = 0, at = 1; i < pending.length; i++) {
      const count = pending[i].statements.length + 1
      if (index >= at && index < at + count) failed = `migration ${pending[i].tag}`
      at += count
    }
    throw new MigrationError(
      `${failed} failed, so none of the ${pending.length} pending migrations was applied and the database is as it was: ${(error as Error).message}`,
    )
  }
  return pending.map((m) => m.tag)
}

import { createClient } from '@libsql/client'
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { PAGE_SIZE } from './page-size'

export class BackupError extends Error {}

/** The file path of a local libsql URL (`file:…`), or undefined for remote and in-memory ones. */
export function localPathOf(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined
  return url.slice('file:'.length).replace(/\?.*$/, '')
}

/**
 * Writes a consistent copy of the database at `url` into `target` while the server keeps
 * serving. `VACUUM INTO` reads inside one read transaction, so the copy is the database as of
 * one instant (every commit before it, none half-done), and in WAL mode it never blocks the
 * server's writer. The copy is checked with `PRAGMA integrity_check` before this resolves.
 */
export async function backupDatabase(
  url: string,
  target: string,
): Promise<{ path: string; bytes: number; ms: number }> {
  const source = localPathOf(url)
  if (!source)
    throw new BackupError(
      `backups work on a local database file (DATABASE_URL=file:…), not ${url.replace(/\/\/.*@/, '//***@')}; back up a libsql server with its own tools`,
    )
  if (!existsSync(source)) throw new BackupError(`there is no database at ${source}`)
  const path = resolve(target)
  if (existsSync(path))
    throw new BackupError(`${path} already exists; choose a new file name (a backup never overwrites)`)
  mkdirSync(dirname(path), { recursive: true })
  const started = performance.now()
  const client = createClient({ url, concurrency: 1 })
  try {
    await client.execute('PRAGMA busy_timeout = 5000')
    // The copy is written with today's page size (the source keeps its own), so restoring it
    // also moves a database made with an older one over (src/db/page-size.ts).
    await client.execute(`PRAGMA page_size = ${PAGE_SIZE}`)
    await client.execute({ sql: 'VACUUM INTO ?', args: [path] })
  } finally {
    client.close()
  }
  const problem = await integrityProblem(path)
  if (problem) throw new BackupError(`the copy at ${path} failed its integrity check: ${problem}`)
  return { path, bytes: Bun.file(path).size, ms: Math.round(performance.now() - started) }
}

/** `PRAGMA integrity_check` of a database file: undefined when it says "ok", else what it says. */
export async function integrityProblem(path: string): Promise<string | undefined> {
  const client = createClient({ url: `file:${path}`, concurrency: 1 })
  try {
    const { rows } = await client.execute('PRAGMA integrity_check')
    const lines = rows.map((r) => String(Object.values(r)[0]))
    return lines.length === 1 && lines[0] === 'ok' ? undefined : lines.slice(0, 5).join('; ')
  } finally {
    client.close()
  }
}

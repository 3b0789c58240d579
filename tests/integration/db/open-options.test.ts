/** openDatabase's options reach SQLite: reads map the file only when asked (SQLITE_MMAP_MB); page sizes. */
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import { openDatabase } from '../../../src/db/client'
import { PAGE_SIZE } from '../../../src/db/page-size'
import { log } from '../../../src/log'

const dir = mkdtempSync(join(tmpdir(), 'chat-open-options-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const mmapSize = async (mmapBytes?: number, name = crypto.randomUUID()) => {
  const database = await openDatabase(`file:${join(dir, `${name}.db`)}`, undefined, { mmapBytes })
  try {
    return Number((await database.client.execute('PRAGMA mmap_size')).rows[0][0])
  } finally {
    database.close()
  }
}

test('the file is mapped for reads only when mmapBytes is set', async () => {
  expect(await mmapSize()).toBe(0)
  expect(await mmapSize(0)).toBe(0)
  expect(await mmapSize(8 * 1024 * 1024)).toBe(8 * 1024 * 1024)
})

test('a new file gets 4 KiB pages; an existing file keeps the size it was made with', async () => {
  const pageSize = async (url: string) => {
    const database = await openDatabase(url)
    try {
      return Number((await database.client.execute('PRAGMA page_size')).rows[0][0])
    } finally {
      database.close()
    }
  }
  expect(PAGE_SIZE).toBe(4096)
  expect(await pageSize(`file:${join(dir, 'new.db')}`)).toBe(PAGE_SIZE)
  const older = `file:${join(dir, 'older.db')}`
  const client = createClient({ url: older })
  await client.execute('PRAGMA page_size = 16384')
  await client.execute('CREATE TABLE made_before (x)')
  client.close()
  const logged = await loggedLines(() => pageSize(older))
  expect(logged.result).toBe(16384)
  // The operator is told, once per start, how to move such a file over.
  const hint = logged.lines.find((line) => line.pageSize === 16384)
  expect(hint).toMatchObject({ level: 'info', newFilesGet: PAGE_SIZE, see: 'docs/operations.md, "Page size"' })
  expect((await loggedLines(() => pageSize(`file:${join(dir, 'new.db')}`))).lines).toEqual([])
})

/** What the structured log wrote on stdout while `fn` ran (at level info), one object per line. */
async function loggedLines<T>(fn: () => Promise<T>): Promise<{ result: T; lines: Record<string, unknown>[] }> {
  const levelBefore = log.level
  const write = process.stdout.write
  const text: string[] = []
  log.setLevel('info')
  process.stdout.write = ((chunk: string | Uint8Array) => {
    text.push(typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk))
    return true
  }) as typeof process.stdout.write
  try {
    const result = await fn()
    const lines = text
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
    return { result, lines }
  } finally {
    process.stdout.write = write
    log.setLevel(levelBefore)
  }
}

/** openDatabase's options reach SQLite: reads map the file only when asked (SQLITE_MMAP_MB); page sizes. */
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import { openDatabase } from '../../../src/db/client'
import { PAGE_SIZE } from '../../../src/db/page-size'

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
  expect(await pageSize(older)).toBe(16384)
})

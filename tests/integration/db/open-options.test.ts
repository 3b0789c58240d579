/** openDatabase's options reach SQLite: reads map the file only when asked (SQLITE_MMAP_MB). */
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../../src/db/client'

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

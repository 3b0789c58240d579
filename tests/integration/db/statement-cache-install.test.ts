import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import LibsqlDatabase from 'libsql'
import { openDatabase } from '../../../src/db/client'
import { cachesStatements, withStatementCache } from '../../../src/db/statement-cache'

type Connection = { prepare(sql: string): object; close(): void }
const Database = LibsqlDatabase as unknown as new (path: string) => Connection

// One test starts a second bun process, which a loaded machine may start slowly.
setDefaultTimeout(30_000)

/**
 * The prepared-statement cache (src/db/statement-cache.ts) is opt-in per connection:
 * importing it patches nothing, and only connections opened through it cache.
 */
describe('prepared-statement cache installation', () => {
  test('importing the database modules leaves libsql as it is', async () => {
    // A fresh process: this one may already have opened databases.
    const script = `
      const { default: Database } = await import('libsql')
      const { prepare, exec } = Database.prototype
      await import('./src/db/statement-cache.ts')
      await import('./src/db/client.ts')
      console.log(JSON.stringify({ prepare: Database.prototype.prepare === prepare, exec: Database.prototype.exec === exec }))
    `
    const child = Bun.spawnSync([process.execPath, '-e', script], { cwd: `${import.meta.dir}/../../..` })
    const [out, err, code] = [child.stdout.toString(), child.stderr.toString(), child.exitCode]
    // The verdict is the last line (stderr rides along to explain a failure).
    const verdict = out.trim().split('\n').at(-1)
    expect({ code, verdict, err: code === 0 ? '' : err }).toEqual({
      code: 0,
      verdict: '{"prepare":true,"exec":true}',
      err: '',
    })
  })

  test('only connections opened through it cache, also once a database is open', async () => {
    const database = await openDatabase(':memory:')
    const plain = new Database(':memory:')
    const cached = withStatementCache(() => {
      const connection = new Database(':memory:')
      connection.prepare('SELECT 1')
      return connection
    })
    try {
      expect(cachesStatements(plain)).toBe(false)
      expect(plain.prepare('SELECT 2')).not.toBe(plain.prepare('SELECT 2'))
      expect(cachesStatements(cached)).toBe(true)
      expect(cached.prepare('SELECT 2')).toBe(cached.prepare('SELECT 2'))
      // Enrolling happens only inside withStatementCache.
      const later = new Database(':memory:')
      later.prepare('SELECT 1')
      expect(cachesStatements(later)).toBe(false)
      later.close()
    } finally {
      plain.close()
      cached.close()
      database.close()
    }
  })
})

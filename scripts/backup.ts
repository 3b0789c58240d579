/**
 * `bun run backup <file>` (or `local-chat-server backup <file>` with the single-file build): a
 * consistent copy of the database while the server runs (docs/operations.md, "Backups"). Reads
 * DATABASE_URL like the server (environment, then .env; default file:./data/chat.db). Exits 0
 * after the copy passed its integrity check, 1 otherwise.
 */
import { readDotEnv } from '../src/config'
import { BackupError, backupDatabase } from '../src/db/backup'

const args = process.argv.slice(2)
if (args[0] === 'backup' && args.length > 1) args.shift() // `local-chat-server backup <file>`
const target = args[0]
if (!target || target.startsWith('-')) {
  console.error('usage: bun run backup <file>   (writes a consistent copy of the database to <file>)')
  process.exit(2)
}
readDotEnv()
const url = process.env.DATABASE_URL || 'file:./data/chat.db'
try {
  const { path, bytes, ms } = await backupDatabase(url, target)
  console.log(`backup written to ${path} (${bytes} bytes, ${ms} ms, integrity ok)`)
} catch (error) {
  console.error(
    `backup failed: ${error instanceof BackupError ? error.message : String((error as Error)?.message ?? error)}`,
  )
  process.exit(1)
}

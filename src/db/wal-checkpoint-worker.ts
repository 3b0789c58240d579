/**
 * The worker thread of src/db/wal-checkpointer.ts: its own connection to the database file,
 * which copies the write-ahead log back into the file every `everyMs` (a PASSIVE checkpoint:
 * it never waits for, or blocks, the server's writer and readers). This file runs only inside
 * that worker; it is an entry point of its own in the single-file build (scripts/build.ts).
 */
import LibsqlDatabase from 'libsql'
import type { CheckpointerMessage, CheckpointWorkerCommand } from './wal-checkpointer'

declare const self: Worker

interface Statement {
  get(): Record<string, number>
}
interface Connection {
  prepare(sql: string): Statement
  close(): void
}

let connection: Connection | undefined
let passiveCheckpoint: Statement | undefined
let timer: ReturnType<typeof setInterval> | undefined
/** The log's size and how much of it was copied at the last checkpoint (SQLite reports totals). */
let last = { frames: 0, copied: 0 }

const send = (message: CheckpointerMessage) => postMessage(message)

function checkpoint() {
  if (!passiveCheckpoint) return
  try {
    const result = passiveCheckpoint.get()
    const now = { frames: Number(result.log), copied: Number(result.checkpointed) }
    // A log that shrank was started over by the writer: everything copied now is new.
    const copied = now.frames >= last.frames && now.copied >= last.copied ? now.copied - last.copied : now.copied
    last = now
    send({ type: 'checkpointed', copied })
  } catch (error) {
    send({ type: 'failed', error: String(error) })
  }
}

self.onmessage = (event: MessageEvent<CheckpointWorkerCommand>) => {
  const command = event.data
  if (command.type === 'start') {
    try {
      connection = new (LibsqlDatabase as unknown as new (path: string) => Connection)(command.file)
      connection.prepare('PRAGMA busy_timeout = 5000').get()
      passiveCheckpoint = connection.prepare('PRAGMA wal_checkpoint(PASSIVE)')
    } catch (error) {
      send({ type: 'failed', error: String(error) })
      return
    }
    timer = setInterval(checkpoint, command.everyMs)
    return
  }
  // 'stop': the server's connection is closed or closing; this one goes too.
  if (timer) clearInterval(timer)
  try {
    connection?.close()
  } catch {
    // Closing is best effort: the file is the server's, not this thread's.
  }
  connection = undefined
  passiveCheckpoint = undefined
  send({ type: 'stopped' })
}

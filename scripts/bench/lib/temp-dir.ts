/**
 * Temp folders of a benchmark, removed when its process exits: after it ends or crashes, and on
 * Ctrl-C or SIGTERM (a `timeout`), which otherwise end the process without its clean-up.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const dirs = new Set<string>()
let hooked = false

/** A new folder `<tmp>/<prefix>XXXXXX`, removed at exit if nothing removed it before. */
export function benchTempDir(prefix: string): string {
  if (!hooked) {
    hooked = true
    process.once('exit', () => {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
    })
    process.once('SIGINT', () => process.exit(130))
    process.once('SIGTERM', () => process.exit(143))
  }
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.add(dir)
  return dir
}

/**
 * Files baked into the single-file build (`bun run build`, scripts/build.ts). Its generated entry
 * fills this in before the server starts; when running from the source tree it stays empty and
 * the server reads db/migrations and builds the web UI from src/web/app as usual.
 *
 * Each value is a path Bun can read with `Bun.file()` (inside the executable: `/$bunfs/…`).
 */
export interface EmbeddedFiles {
  /** db/migrations: `meta/_journal.json` and every `<tag>.sql`, by their path in that folder. */
  migrations?: Record<string, string>
  /** The pre-built web UI: `index.html` and the hashed assets, by file name. */
  web?: Record<string, string>
  /** src/db/wal-checkpoint-worker.ts, an entry point of its own in the executable, as `new Worker` takes it. */
  checkpointWorker?: string
  /** src/documents/pdf-worker.ts, likewise. */
  pdfWorker?: string
  /** src/datasets/csv-worker.ts, likewise. */
  csvWorker?: string
}

export const embedded: EmbeddedFiles = {}

export function registerEmbedded(files: EmbeddedFiles): void {
  Object.assign(embedded, files)
}

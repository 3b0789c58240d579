/**
 * The page size of a new database file: SQLite's own 4 KiB. Every commit writes each page it
 * touched to the WAL whole, and a chat's writes are small rows spread over several tables,
 * indexes and FTS5 segments, so the page size is most of what a commit writes: with 16 KiB
 * pages (this server's choice before 2026-12) a run wrote about 140 KiB to the log, with 4 KiB
 * pages about 53 KiB, and the checkpoint copies it all again (docs/performance.md, "Round 6").
 *
 * An existing file keeps the size it was made with; `bun run backup` writes its copy with this
 * one, so restoring a backup moves an older database over (docs/operations.md).
 */
export const PAGE_SIZE = 4096

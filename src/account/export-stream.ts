import type { UserContext } from '../context/user-context'
import { breathe } from '../db/breathe'
import { log } from '../log'

/** Pieces are gathered up to about this many characters before one chunk goes out. */
const CHUNK_CHARS = 64 * 1024

/**
 * `fields` as JSON with one more field, `key`, opened after them: `{"a":1,"key":`. The caller
 * writes the value and the closing `}`; so an object whose last field is long (a thread's
 * messages, a dataset's rows) is written without holding that field whole.
 */
export function openField(fields: Record<string, unknown>, key: string): string {
  const head = JSON.stringify(fields)
  return `${head === '{}' ? '{' : `${head.slice(0, -1)},`}${JSON.stringify(key)}:`
}

/**
 * A JSON array written page by page: `next(after)` answers one page of items and the key to
 * continue from (none at the end). The event loop gets a turn after each page.
 */
export async function* pagedArray<T, K>(
  next: (after: K | undefined) => Promise<{ items: T[]; next: K | undefined }>,
  pageSize: number,
): AsyncGenerator<string> {
  yield '['
  let after: K | undefined
  let first = true
  for (;;) {
    const page = await next(after)
    if (page.items.length > 0) {
      yield (first ? '' : ',') + page.items.map((item) => JSON.stringify(item)).join(',')
      first = false
    }
    if (page.items.length < pageSize || page.next === undefined) break
    after = page.next
    await breathe()
  }
  yield ']'
}

/**
 * A download made of JSON pieces, read as they are needed (the client's pace sets ours) and always
 * as `context`'s user: the request's own context is disposed once the response has started, long
 * before a large download ends, so the stream owns `context` and disposes it when it ends.
 *
 * A piece that fails errors the stream: the transfer then breaks off, so the client sees a failed
 * download rather than a short document that could pass for whole.
 */
export function jsonDownload(context: UserContext, pieces: AsyncGenerator<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  const release = () => void context.dispose().catch(() => {})
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk = ''
      try {
        while (chunk.length < CHUNK_CHARS) {
          const piece = await context.run(() => pieces.next())
          if (piece.done) {
            if (chunk) controller.enqueue(encoder.encode(chunk))
            controller.close()
            release()
            return
          }
          chunk += piece.value
        }
        controller.enqueue(encoder.encode(chunk))
      } catch (error) {
        log.error('a streamed download failed part way; its transfer is broken off', {
          userId: context.userId,
          requestId: context.requestId,
          error: error instanceof Error ? error.message : String(error),
        })
        controller.error(error)
        release()
      }
    },
    async cancel() {
      // The client went away: the reads stop where they are.
      await context.run(() => pieces.return(undefined)).catch(() => {})
      release()
    },
  })
}

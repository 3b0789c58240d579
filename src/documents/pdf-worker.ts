/**
 * The worker thread of src/documents/pdf-reader.ts: opens a PDF with pdf.js (unpdf) and, when
 * asked, reads its text page by page. pdf.js works synchronously for as long as a page's content
 * stream is, and a small file can inflate to hundreds of MB of drawing commands; here that costs
 * this thread, which the server terminates at its time limit, instead of the server's own.
 * This file runs only inside that worker; it is an entry point of its own in the single-file
 * build (scripts/build.ts).
 */
import { getDocumentProxy } from 'unpdf'
import type { PdfWorkerCommand, PdfWorkerReply } from './pdf-reader'

declare const self: Worker

/** The text-layer pieces pdf.js streams for a page (only what is read here). */
interface TextItem {
  str?: string
  hasEOL?: boolean
}

const send = (reply: PdfWorkerReply) => postMessage(reply)

/**
 * The text of every page, read as pdf.js streams it, so `maxChars` stops the reading as soon as
 * it is passed (even inside one enormous page) rather than after everything was held in memory.
 */
async function readText(bytes: Uint8Array, maxChars: number): Promise<PdfWorkerReply> {
  const pdf = await getDocumentProxy(bytes)
  const pages: string[] = []
  let chars = 0
  for (let n = 1; n <= pdf.numPages; n++) {
    const page = await pdf.getPage(n)
    const reader = page.streamTextContent().getReader() as ReadableStreamDefaultReader<{ items: TextItem[] }>
    // One flat string per streamed batch: holding each item's own small string instead cost
    // several times the text's size in memory.
    const parts: string[] = []
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      const batch = value.items
        .filter((item) => item.str != null)
        .map((item) => item.str + (item.hasEOL ? '\n' : ''))
        .join('')
      parts.push(batch)
      chars += batch.length
      if (chars > maxChars) {
        await reader.cancel().catch(() => {})
        return { type: 'too-much-text', maxChars }
      }
    }
    pages.push(parts.join('').trim())
    page.cleanup()
  }
  return { type: 'text', text: pages.join('\n\n'), pages: pdf.numPages }
}

self.onmessage = async (event: MessageEvent<PdfWorkerCommand>) => {
  const command = event.data
  try {
    if (command.type === 'check') {
      // Opening parses the cross-reference table (or rebuilds it by scanning the whole file).
      await getDocumentProxy(command.bytes)
      send({ type: 'readable' })
    } else send(await readText(command.bytes, command.maxChars))
  } catch (error) {
    send({ type: 'unreadable', error: String((error as Error)?.message ?? error) })
  }
}

/**
 * src/documents/pdf-reader.ts: PDFs opened and read on a worker thread, within a time limit, a
 * text cap and a memory limit, a few at a time. (The server-level behaviour — a bomb's document
 * failing while the server answers — is tests/integration/documents/pdf-limits.test.ts.)
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { type PdfLimits, PdfReadError, pdfOpens, pdfText } from '../../../src/documents/pdf-reader'
import { makeBlankLzwPdfBomb, makePdf, makePdfBomb } from '../../support/documents'

setDefaultTimeout(20_000)

const LIMITS: PdfLimits = { timeoutMs: 30_000, maxChars: 1_000_000 }
const reasonOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'read',
    (error) => (error instanceof PdfReadError ? error.reason : String(error)),
  )

describe('pdfText', () => {
  test('gives each page trimmed, pages apart by a blank line, and the page count', async () => {
    const pdf = await makePdf(['  First page words.  ', 'Second page\nwith two lines.'])
    expect(await pdfText(pdf, LIMITS)).toEqual({
      text: 'First page words.\n\nSecond page\nwith two lines.',
      pages: 2,
    })
  })

  test('leaves the bytes it was given intact (they are copied to the worker)', async () => {
    const pdf = await makePdf(['Intact.'])
    const before = pdf.slice()
    await pdfText(pdf, LIMITS)
    expect(pdf).toEqual(before)
  })

  test('stops at the text cap, inside a page', async () => {
    // 2 MB of "(Hello world) Tj": about 500,000 characters on one page.
    const bomb = makePdfBomb('BT /F1 12 Tf 72 712 Td (Hello world) Tj ET\n', 2 * 1024 * 1024)
    const reading = pdfText(bomb, { ...LIMITS, maxChars: 10_000 })
    await expect(reading).rejects.toThrow('the PDF holds more than 10,000 characters of text')
    expect(await reasonOf(pdfText(bomb, { ...LIMITS, maxChars: 10_000 }))).toBe('too_much_text')
  })

  test('ends a read that passes the memory limit', async () => {
    // 160 MB of commands: pdf.js inflates the whole stream before it reads a command.
    const bomb = makePdfBomb('0 0 m 1 1 l S\n', 160 * 1024 * 1024)
    expect(await reasonOf(pdfText(bomb, { ...LIMITS, maxMemoryBytes: 96 * 1024 * 1024 }))).toBe('too_much_memory')
  })

  test('ends a read that passes the time limit; the next read waits for a turn, not for the clock', async () => {
    const order: string[] = []
    const slow = reasonOf(
      pdfText(makeBlankLzwPdfBomb(64 * 1024 * 1024), { ...LIMITS, timeoutMs: 300, concurrency: 1 }),
    ).then((reason) => {
      order.push(`slow: ${reason}`)
    })
    // With one worker at a time this one starts only when the slow one is ended, and its own
    // time limit starts then: it is read in full.
    const small = pdfText(await makePdf(['Waited its turn.']), { ...LIMITS, concurrency: 1 }).then(({ text }) => {
      order.push(`small: ${text}`)
    })
    await Promise.all([slow, small])
    expect(order).toEqual(['slow: timeout', 'small: Waited its turn.'])
  })
})

describe('pdfOpens', () => {
  test('is true for a PDF and false for bytes that only start like one', async () => {
    expect(await pdfOpens(await makePdf(['Opens.']), LIMITS)).toBe(true)
    expect(await pdfOpens(new TextEncoder().encode('%PDF-1.7\nthis is not a real pdf body'), LIMITS)).toBe(false)
  })
})

describe('stopping', () => {
  test('a read stopped while it waits for its turn gives the turn on', async () => {
    const controller = new AbortController()
    const first = reasonOf(
      pdfText(makeBlankLzwPdfBomb(64 * 1024 * 1024), { ...LIMITS, timeoutMs: 300, concurrency: 1 }),
    )
    const stopped = reasonOf(pdfText(await makePdf(['Never read.']), { ...LIMITS, concurrency: 1 }, controller.signal))
    controller.abort(new Error('deleted'))
    expect(await first).toBe('timeout')
    expect(await stopped).toBe('Error: deleted')
    // Had the stopped read kept its turn, this one would wait for ever.
    expect(await pdfText(await makePdf(['Read next.']), { ...LIMITS, concurrency: 1 })).toMatchObject({
      text: 'Read next.',
    })
  })
})

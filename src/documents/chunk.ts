/** Target and hard limit of a chunk's length in characters (a few paragraphs; one embedding each). */
export const CHUNK_TARGET_CHARS = 800
export const CHUNK_MAX_CHARS = 1200

/**
 * Cuts a text into chunks along paragraphs, then sentences, then words, so a chunk keeps whole
 * thoughts. Whitespace inside a paragraph is folded to single spaces; empty text gives none.
 * Chunks do not overlap: a citation quote is always inside exactly one chunk.
 */
export function chunkText(text: string, target = CHUNK_TARGET_CHARS, max = CHUNK_MAX_CHARS): string[] {
  const paragraphs = text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, ' ').trim())
    .filter(Boolean)
  const pieces = paragraphs.flatMap((p) => (p.length <= max ? [p] : splitLong(p, max)))
  const chunks: string[] = []
  let current = ''
  for (const piece of pieces) {
    if (!current) current = piece
    else if (current.length + 2 + piece.length <= target) current += `\n\n${piece}`
    else {
      chunks.push(current)
      current = piece
    }
  }
  if (current) chunks.push(current)
  return chunks
}

/** A paragraph longer than `max`: sentences packed up to `max`, a sentence too long cut at words. */
function splitLong(paragraph: string, max: number): string[] {
  const sentences = paragraph.match(/[^.!?]+(?:[.!?]+|$)\s*/g) ?? [paragraph]
  const out: string[] = []
  let current = ''
  const push = () => {
    if (current.trim()) out.push(current.trim())
    current = ''
  }
  for (const sentence of sentences) {
    if (sentence.length > max) {
      push()
      for (const word of sentence.split(' ')) {
        if (current.length + word.length + 1 > max) push()
        // A single "word" longer than max (a URL, base64) is cut hard.
        if (word.length > max) for (let i = 0; i < word.length; i += max) out.push(word.slice(i, i + max))
        else current += current ? ` ${word}` : word
      }
      continue
    }
    if (current.length + sentence.length > max) push()
    current += sentence
  }
  push()
  return out
}

/** Characters chunked between two turns of the event loop. */
const WINDOW_CHARS = 256 * 1024

/**
 * `chunkText` for long texts: window by window (each ending at a paragraph break), with the
 * event loop turning in between, so chunking a 20 MB text does not stall other work.
 */
export async function chunkTextInSlices(text: string): Promise<string[]> {
  const chunks: string[] = []
  for (let start = 0; start < text.length; ) {
    let end = start + WINDOW_CHARS
    if (end < text.length) {
      const cut = text.indexOf('\n\n', end)
      end = cut === -1 ? text.length : cut
    } else end = text.length
    chunks.push(...chunkText(text.slice(start, end)))
    start = end
    if (start < text.length) await new Promise<void>((resolve) => setImmediate(resolve))
  }
  return chunks
}

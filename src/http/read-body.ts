import { AppError } from './errors'

const tooLarge = (maxBytes: number) =>
  new AppError(413, 'payload_too_large', `the request body is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`)

/**
 * Reads a request body as text, stopping as soon as it passes `maxBytes` (a declared length
 * over it is refused before reading; a chunked body is counted as it streams).
 */
export async function readBodyLimited(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? 0)
  if (declared > maxBytes) throw tooLarge(maxBytes)
  if (!request.body) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel().catch(() => {})
      throw tooLarge(maxBytes)
    }
    chunks.push(value)
  }
  return new TextDecoder().decode(Buffer.concat(chunks))
}

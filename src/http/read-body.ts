import { AppError } from './errors'

const tooLarge = (maxBytes: number) =>
  new AppError(413, 'payload_too_large', `the request body is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`)

/**
 * Reads a request body's bytes, stopping as soon as it passes `maxBytes` (a declared length
 * over it is refused before reading; a chunked body is counted as it streams, so one without
 * Content-Length cannot slip past). ``tooLargeError` makes the error thrown past the limit.
 */
export async function readBytesLimited(
  request: Request,
  maxBytes: number,
  tooLargeError: () => Error = () => tooLarge(maxBytes),
): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? 0)
  if (declared > maxBytes) throw tooLargeError()
  if (!request.body) return new Uint8Array()
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel().catch(() => {})
      throw tooLargeError()
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks)
}

/** Reads a request body as text, limited as `readBytesLimited` reads it. */
export async function readBodyLimited(request: Request, maxBytes: number): Promise<string> {
  return new TextDecoder().decode(await readBytesLimited(request, maxBytes))
}

import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import { AppError, InvalidInputError } from '../http/errors'
import { DEFAULT_LIST_LIMIT, listDocumentsQuery } from './model'
import { DocumentTooLargeError, DOCUMENT_NAME_MAX, type DocumentsService } from './service'
import { collectionRoutes } from '../auth/collection-routes'
import { readBytesLimited } from '../http/read-body'

/** Room for the multipart envelope (boundaries, part headers) around a file of the largest size. */
const MULTIPART_SLACK = 64 * 1024

/**
 * The request body this route reads at most: a document of `maxBytes` plus its envelope (multipart
 * boundaries and headers, or JSON quoting). The document itself is then held to `maxBytes`, so a
 * file of exactly the limit is taken and one byte more is refused with the document's own message.
 */
export const documentBodyLimit = (maxBytes: number) => maxBytes + MULTIPART_SLACK

/** /api/documents (PROTOCOL.md §8): upload, list, read and delete the user's documents. */
export function documentRoutes(documents: DocumentsService, guard: AuthGuard, maxBytes: number) {
  // The general 8 MiB body limit does not apply here; this route counts its own (larger) one.
  const tooLarge = () => new DocumentTooLargeError(maxBytes)

  return new Elysia({ name: 'document-routes' })
    .use(guard)
    .post(
      '/api/documents',
      async ({ request, set }) => {
        const type = (request.headers.get('content-type') ?? '').toLowerCase()
        const raw = await readBytesLimited(request, documentBodyLimit(maxBytes), tooLarge)
        let document
        if (type.startsWith('multipart/form-data')) {
          let form: FormData
          try {
            form = await new Response(raw as Uint8Array<ArrayBuffer>, {
              headers: { 'content-type': request.headers.get('content-type')! },
            }).formData()
          } catch {
            throw new InvalidInputError('the multipart body could not be read')
          }
          const file = form.get('file')
          if (!(file instanceof Blob)) throw new InvalidInputError('the form needs a "file" field holding the document')
          const name =
            typeof form.get('name') === 'string' && String(form.get('name')).trim()
              ? String(form.get('name'))
              : ((file as File).name ?? '')
          document = await documents.uploadFile({ name, bytes: new Uint8Array(await file.arrayBuffer()) })
        } else if (type.startsWith('application/json')) {
          let body: unknown
          try {
            body = JSON.parse(new TextDecoder().decode(raw))
          } catch {
            throw new AppError(400, 'invalid_json', 'the request body is not valid JSON')
          }
          const { name, text } = (body ?? {}) as { name?: unknown; text?: unknown }
          if (typeof name !== 'string' || name.trim() === '' || name.length > DOCUMENT_NAME_MAX)
            throw new InvalidInputError(`name must be 1 to ${DOCUMENT_NAME_MAX} characters`)
          if (typeof text !== 'string') throw new InvalidInputError('text must be the document text')
          document = await documents.uploadText({ name, text })
        } else {
          throw new InvalidInputError(
            'send the document as multipart/form-data with a "file" field, or as JSON {name, text}',
          )
        }
        set.status = 202
        return { document }
      },
      // The body is read above, counted as it streams; the parser only leaves it untouched.
      { auth: true, parse: () => ({ readByRoute: true }) },
    )
    .get(
      '/api/documents',
      ({ query }) => documents.list({ limit: query.limit ?? DEFAULT_LIST_LIMIT, cursor: query.cursor || undefined }),
      { auth: true, query: listDocumentsQuery },
    )
    .use(
      collectionRoutes(guard, {
        path: '/api/documents',
        get: { singular: 'document', get: (id) => documents.get(id) },
        remove: (id) => documents.remove(id),
      }),
    )
}

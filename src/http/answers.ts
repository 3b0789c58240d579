import type { Context } from 'elysia'

/** The response settings a handler is given (status, headers). */
type ResponseSet = Context['set']

/** Answers 201 Created with `body`. */
export function created<T>(set: ResponseSet, body: T): T {
  set.status = 201
  return body
}

/**
 * The handler of a `DELETE /…/:id` route: runs `remove` on the id and answers 204 with no body
 * (a resource that is not the caller's throws NotFound inside `remove`).
 */
export function deleteById(remove: (id: string) => Promise<unknown>) {
  return async ({ params, set }: { params: { id: string }; set: ResponseSet }) => {
    await remove(params.id)
    set.status = 204
    return undefined
  }
}

/** One page of a list under the list's own name: `{ [name]: items, nextCursor }` (PROTOCOL.md §5). */
export function namedPage<Name extends string, T>(
  name: Name,
  page: { items: T[]; nextCursor: string | null },
): Record<Name, T[]> & { nextCursor: string | null } {
  return { [name]: page.items, nextCursor: page.nextCursor } as Record<Name, T[]> & { nextCursor: string | null }
}

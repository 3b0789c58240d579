import { Elysia, type Static, t, type TSchema } from 'elysia'
import type { AuthGuard } from './guard'
import { created, deleteById, namedPage } from '../http/answers'
import { idParams } from '../http/route-schemas'
import { pageQuery } from '../http/page-query'

/** `?limit=&cursor=` (PROTOCOL.md §5): what a list takes unless it says otherwise. */
const pageOnly = t.Object(pageQuery)

/**
 * The routes a collection of the user's own things shares (PROTOCOL.md §2, §5), each only when
 * its part is given; a feature adds its other routes beside them.
 *
 *   GET    <path>       `list`: one page, `{ [plural]: [...], nextCursor }`
 *   POST   <path>       `create`: 201 `{ [singular]: … }`
 *   GET    <path>/:id   `get`: `{ [singular]: … }`
 *   DELETE <path>/:id   `remove`: 204
 *
 * Here beside the guard because all of them need a signed-in user (its `auth`). `:id` is
 * checked by `idParams`; another user's item is a 404, thrown by the service's repository.
 */
export interface CollectionSpec<Query extends TSchema, Body extends TSchema> {
  /** The list's path, e.g. `/api/notes`; an item is at `<path>/:id`. */
  path: string
  list?: {
    plural: string
    /** The query's schema (default: `?limit=&cursor=`, PROTOCOL.md §5). */
    query?: Query
    page: (query: Static<Query>) => Promise<{ items: unknown[]; nextCursor: string | null }>
  }
  create?: { singular: string; body: Body; create: (body: Static<Body>) => Promise<unknown> }
  get?: { singular: string; get: (id: string) => Promise<unknown> }
  remove?: (id: string) => Promise<unknown>
}

export function collectionRoutes<Query extends TSchema = typeof pageOnly, Body extends TSchema = TSchema>(
  guard: AuthGuard,
  spec: CollectionSpec<Query, Body>,
) {
  const { path, list, create, get, remove } = spec
  // Route methods add to the instance they are called on, so the optional parts need no chain.
  const app = new Elysia({ name: 'collection-routes', seed: path }).use(guard)
  if (list) {
    app.get(path, async ({ query }) => namedPage(list.plural, await list.page(query as Static<Query>)), {
      auth: true,
      query: list.query ?? pageOnly,
    })
  }
  if (create) {
    app.post(
      path,
      async ({ body, set }) => created(set, { [create.singular]: await create.create(body as Static<Body>) }),
      { auth: true, body: create.body },
    )
  }
  if (get) {
    app.get(`${path}/:id`, async ({ params }) => ({ [get.singular]: await get.get(params.id) }), {
      auth: true,
      params: idParams,
    })
  }
  if (remove) app.delete(`${path}/:id`, deleteById(remove), { auth: true, params: idParams })
  return app
}

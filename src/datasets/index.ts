import { Elysia, t } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { DatasetsService } from './service'
import { createDatasetBody, datasetParams } from './model'
import { pageQuery } from '../http/page-query'

/** /api/datasets (PROTOCOL.md §2): the CSV datasets the data tools query. */
export function datasetRoutes(datasets: DatasetsService, guard: AuthGuard) {
  return new Elysia({ name: 'dataset-routes' })
    .use(guard)
    .get(
      '/api/datasets',
      async ({ query }) => {
        const page = await datasets.page(query)
        return { datasets: page.items, nextCursor: page.nextCursor }
      },
      { auth: true, query: t.Object(pageQuery) },
    )
    .post(
      '/api/datasets',
      async ({ body, set }) => {
        const dataset = await datasets.create(body)
        set.status = 201
        return { dataset }
      },
      { auth: true, body: createDatasetBody },
    )
    .get('/api/datasets/:id', ({ params }) => datasets.get(params.id), { auth: true, params: datasetParams })
    .delete(
      '/api/datasets/:id',
      async ({ params, set }) => {
        await datasets.remove(params.id)
        set.status = 204
        return undefined
      },
      { auth: true, params: datasetParams },
    )
}

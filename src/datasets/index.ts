import { Elysia, t } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { DatasetsService } from './service'
import { createDatasetBody, datasetParams } from './model'
import { pageQuery } from '../http/page-query'
import { created, deleteById, namedPage } from '../http/answers'

/** /api/datasets (PROTOCOL.md §2): the CSV datasets the data tools query. */
export function datasetRoutes(datasets: DatasetsService, guard: AuthGuard) {
  return new Elysia({ name: 'dataset-routes' })
    .use(guard)
    .get('/api/datasets', async ({ query }) => namedPage('datasets', await datasets.page(query)), {
      auth: true,
      query: t.Object(pageQuery),
    })
    .post('/api/datasets', async ({ body, set }) => created(set, { dataset: await datasets.create(body) }), {
      auth: true,
      body: createDatasetBody,
    })
    .get('/api/datasets/:id', ({ params }) => datasets.get(params.id), { auth: true, params: datasetParams })
    .delete(
      '/api/datasets/:id',
      deleteById((id) => datasets.remove(id)),
      { auth: true, params: datasetParams },
    )
}

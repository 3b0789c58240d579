import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { DatasetsService } from './service'
import { createDatasetBody, datasetParams } from './model'
import { collectionRoutes } from '../auth/collection-routes'

/** /api/datasets (PROTOCOL.md §2): the CSV datasets the data tools query. */
export function datasetRoutes(datasets: DatasetsService, guard: AuthGuard) {
  return (
    new Elysia({ name: 'dataset-routes' })
      .use(guard)
      // One dataset answers bare (with its columns and first rows), not under a `dataset` key.
      .get('/api/datasets/:id', ({ params }) => datasets.get(params.id), { auth: true, params: datasetParams })
      .use(
        collectionRoutes(guard, {
          path: '/api/datasets',
          list: { plural: 'datasets', page: (query) => datasets.page(query) },
          create: { singular: 'dataset', body: createDatasetBody, create: (body) => datasets.create(body) },
          remove: (id) => datasets.remove(id),
        }),
      )
  )
}

import { t } from 'elysia'
import { DATASET_NAME_MAX } from './service'
import { boundedText, idParams } from '../http/route-schemas'

export const datasetParams = idParams
/** The CSV's size is checked by the service (413 with a clear message), not here. */
export const createDatasetBody = t.Object({
  name: boundedText('name', DATASET_NAME_MAX),
  csv: t.String({ error: 'csv must be the text of a CSV file' }),
})

import { t } from 'elysia'
import { DATASET_NAME_MAX } from './service'
import { idParams } from '../http/id-params'

export const datasetParams = idParams
/** The CSV's size is checked by the service (413 with a clear message), not here. */
export const createDatasetBody = t.Object({
  name: t.String({
    minLength: 1,
    maxLength: DATASET_NAME_MAX,
    error: `name must be 1 to ${DATASET_NAME_MAX} characters`,
  }),
  csv: t.String({ error: 'csv must be the text of a CSV file' }),
})

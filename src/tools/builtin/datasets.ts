import { Type } from '@sinclair/typebox'
import type { DatasetsService } from '../../datasets/service'
import {
  AGGREGATE_FNS,
  DEFAULT_QUERY_LIMIT,
  MAX_GROUP_BY,
  MAX_QUERY_LIMIT,
  MAX_WHERE,
  WHERE_OPS,
} from '../../db/repositories/dataset-query'
import { defineTool, withoutNulls } from './define'

export function listDatasetsTool(datasets: DatasetsService) {
  return defineTool({
    name: 'list_datasets',
    description:
      "List the user's uploaded CSV datasets with their columns (name and type) and row counts. Call this first to learn the dataset and column names.",
    parameters: Type.Object({}),
    async execute() {
      const all = await datasets.list()
      return { datasets: all.map(({ id, name, columns, rowCount }) => ({ id, name, columns, rowCount })) }
    },
  })
}

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)))

const queryParameters = Type.Object({
  dataset: Type.String({ minLength: 1, maxLength: 200, description: 'the dataset name (or id) from list_datasets' }),
  where: Type.Optional(
    Type.Array(
      Type.Object({
        column: Type.String({ minLength: 1, maxLength: 200 }),
        op: literals(WHERE_OPS),
        value: Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean(), Type.Null()]),
      }),
      {
        maxItems: MAX_WHERE,
        description: 'filters, all must hold, e.g. [{"column":"region","op":"=","value":"North"}]',
      },
    ),
  ),
  groupBy: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
      maxItems: MAX_GROUP_BY,
      description: 'columns to group by, e.g. ["region"]',
    }),
  ),
  aggregate: Type.Optional(
    Type.Object(
      {
        fn: literals(AGGREGATE_FNS),
        column: Type.Optional(
          Type.String({ maxLength: 200, description: 'the column to aggregate (not needed for count)' }),
        ),
      },
      { description: 'e.g. {"fn":"sum","column":"amount"}; the result column is named fn_column, or count' },
    ),
  ),
  orderBy: Type.Optional(
    Type.Object(
      { column: Type.String({ minLength: 1, maxLength: 200 }), dir: Type.Optional(literals(['asc', 'desc'] as const)) },
      { description: 'e.g. {"column":"sum_amount","dir":"desc"}' },
    ),
  ),
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_QUERY_LIMIT,
      description: `at most this many rows (default ${DEFAULT_QUERY_LIMIT})`,
    }),
  ),
})

const opSynonyms: Record<string, string> = {
  '==': '=',
  '===': '=',
  eq: '=',
  equals: '=',
  '<>': '!=',
  '!==': '!=',
  ne: '!=',
  lt: '<',
  lte: '<=',
  gt: '>',
  gte: '>=',
  like: 'contains',
  includes: 'contains',
}

/** Forgives the shapes small models tend to send: a lone string or object where a list is asked for, upper-case words. */
function normalizeQuery(args: Record<string, unknown>): Record<string, unknown> {
  const out = { ...args }
  if (typeof out.groupBy === 'string') out.groupBy = [out.groupBy]
  if (out.where && typeof out.where === 'object' && !Array.isArray(out.where)) out.where = [out.where]
  if (Array.isArray(out.where)) {
    out.where = out.where.map((w) => {
      if (!w || typeof w !== 'object') return w
      const c = { ...(w as Record<string, unknown>) }
      if (typeof c.op === 'string') {
        const op = c.op.trim().toLowerCase()
        c.op = opSynonyms[op] ?? op
      }
      return c
    })
  }
  if (typeof out.aggregate === 'string') out.aggregate = { fn: out.aggregate }
  if (out.aggregate && typeof out.aggregate === 'object') {
    const a = withoutNulls(out.aggregate) as Record<string, unknown>
    if (typeof a.fn === 'string') a.fn = a.fn.trim().toLowerCase()
    out.aggregate = a
  }
  if (typeof out.orderBy === 'string') out.orderBy = { column: out.orderBy }
  if (out.orderBy && typeof out.orderBy === 'object') {
    const o = withoutNulls(out.orderBy) as Record<string, unknown>
    if (typeof o.dir === 'string') o.dir = o.dir.trim().toLowerCase()
    out.orderBy = o
  }
  return out
}

export function queryDatasetTool(datasets: DatasetsService) {
  return defineTool({
    name: 'query_dataset',
    description:
      "Query one of the user's CSV datasets: filter rows (where), group them (groupBy) and compute one aggregate (count, sum, avg, min, max), sort (orderBy) and limit. " +
      'Returns {columns, rows}. Example: total amount per region, largest first: ' +
      '{"dataset":"sales","groupBy":["region"],"aggregate":{"fn":"sum","column":"amount"},"orderBy":{"column":"sum_amount","dir":"desc"}}',
    parameters: queryParameters,
    normalize: normalizeQuery,
    async execute({ dataset, ...query }) {
      return datasets.query(dataset, query)
    },
  })
}

import { Type } from '@sinclair/typebox'
import { defineTool } from './define'

/** A tool that searches one of the user's collections: `{query, limit?}` in, `{[results]: [...]}` out. */
export interface SearchToolSpec {
  name: string
  description: string
  /** How the query is described to the model; `allowEmpty` lets an empty query through (it lists the newest). */
  query: { description: string; allowEmpty?: boolean }
  /** The answer's key, also the word for what it finds ("passages", "messages", "notes"). */
  results: string
  defaultLimit: number
  maxLimit: number
  search: (query: string, limit: number) => Promise<unknown[]>
}

export function defineSearchTool(spec: SearchToolSpec) {
  return defineTool({
    name: spec.name,
    description: spec.description,
    parameters: Type.Object({
      query: Type.String({
        ...(spec.query.allowEmpty ? {} : { minLength: 1 }),
        maxLength: 500,
        description: spec.query.description,
      }),
      limit: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: spec.maxLimit,
          description: `how many ${spec.results} at most (default ${spec.defaultLimit})`,
        }),
      ),
    }),
    async execute({ query, limit }) {
      return { [spec.results]: await spec.search(query, limit ?? spec.defaultLimit) }
    },
  })
}

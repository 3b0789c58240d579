/** The two shapes most ops share, so each op says only what is its own. */
import { type Answer, expectNotFound, expectStatus } from '../client'
import { label, type Ref } from './pick'
import type { FuzzOp, StepContext } from './types'

/** GET `path` as the actor: a 200 whose body `check` accepts (it throws a FuzzFailure if not). */
export function readOwn(
  name: string,
  weight: number,
  path: string,
  check: (ctx: StepContext, answer: Answer) => void,
): FuzzOp {
  return {
    name,
    weight,
    async run(ctx) {
      const answer = await ctx.http('GET', path)
      expectStatus(answer, 200)
      check(ctx, answer)
      return 'own'
    },
  }
}

export interface RefOpSpec {
  name: string
  weight: number
  /** Which id: the target's live ones mostly, sometimes a deleted or made-up one (pickRef). */
  pick: (ctx: StepContext) => Ref
  method: 'GET' | 'DELETE'
  path: (id: string) => string
  /** The status for the actor's own live id. */
  status: number
}

/**
 * One request on a picked id: anything but the actor's own live id must be a 404; for the own
 * one, `check` checks the answer and updates the actor's model.
 */
export function onRef(spec: RefOpSpec, check: (ctx: StepContext, id: string, answer: Answer) => void): FuzzOp {
  return {
    name: spec.name,
    weight: spec.weight,
    async run(ctx) {
      const r = spec.pick(ctx)
      const answer = await ctx.http(spec.method, spec.path(r.id))
      if (!r.mine) return (expectNotFound(answer), label(ctx, r))
      expectStatus(answer, spec.status)
      check(ctx, r.id, answer)
      return 'own'
    },
  }
}

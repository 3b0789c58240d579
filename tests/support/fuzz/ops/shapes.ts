/** The two shapes most ops share, so each op says only what is its own. */
import { type Answer, expectNotFound, expectStatus } from '../client'
import { label, pickRef, type Ref } from './pick'
import type { FuzzOp, FuzzUser, StepContext } from './types'
import type { Kept } from '../world'

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

/** Which kind of resource a user keeps (live and deleted ids) an op works on: `(user) => user.notes`. */
export type KeptOf = (user: FuzzUser) => Kept<unknown>

/** Picks an id of this kind: the target's live ones mostly, sometimes a deleted or made-up one. */
export const pickKept = (kind: KeptOf) => (ctx: StepContext) => {
  const { live, deleted } = kind(ctx.target)
  return pickRef(ctx, live.keys(), deleted)
}

/**
 * DELETE `path(id)` on a picked id of this kind: the actor's own live one answers 204 and moves
 * to its deleted ids (then `after` runs); anything else is a 404.
 */
export function deleteKept(
  name: string,
  weight: number,
  kind: KeptOf,
  path: (id: string) => string,
  after?: (ctx: StepContext) => void,
): FuzzOp {
  return onRef({ name, weight, pick: pickKept(kind), method: 'DELETE', path, status: 204 }, (ctx, id) => {
    const { live, deleted } = kind(ctx.actor)
    live.delete(id)
    deleted.add(id)
    after?.(ctx)
  })
}

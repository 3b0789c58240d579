/** Choosing which id an op uses: the target's live ones mostly, sometimes a deleted one or a made-up one. */
import type { StepContext } from './types'

export interface Ref {
  id: string
  /** The actor's own, live resource: the request must succeed. Otherwise it must be a 404. */
  mine: boolean
}

export function pickRef(ctx: StepContext, alive: Iterable<string>, deleted: Iterable<string>): Ref {
  const live = [...alive]
  const gone = [...deleted]
  const kind = ctx.rand.weighted([
    [live.length ? 8 : 0, 'live'],
    [gone.length ? 1 : 0, 'gone'],
    [1, 'made-up'],
  ] as const)
  const id = kind === 'live' ? ctx.rand.pick(live)! : kind === 'gone' ? ctx.rand.pick(gone)! : crypto.randomUUID()
  ctx.send(id)
  return { id, mine: kind === 'live' && ctx.target === ctx.actor }
}

/** The outcome label for counts. */
export const label = (ctx: StepContext, ref: Ref) => (ref.mine ? 'own' : ctx.hostile ? 'foreign-404' : 'missing-404')

/**
 * A word to look for: when hostile, half the time one only the target's data contains (sent by
 * the actor, so an echo of it is no leak; what is found must still be the actor's), else one of
 * `own`.
 */
export function ownOrForeignWord(ctx: StepContext, targetWord: string, own: string[]) {
  const foreign = ctx.hostile && ctx.rand.bool(0.5)
  return { foreign, word: foreign ? ctx.send(targetWord) : ctx.rand.pick(own)! }
}

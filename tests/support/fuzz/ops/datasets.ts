/** /api/datasets: list, upload, get (with rows), delete — own and foreign ids. */
import { expectStatus } from '../client'
import { FuzzFailure } from '../world'
import { listAll } from './list'
import type { FuzzOp, FuzzUser, StepContext } from './types'
import type { World } from '../world'
import { deleteKept, type KeptOf, onRef, pickKept } from './shapes'

const DATASETS: KeptOf = (user) => user.datasets

/** A dataset name: usually the user's own tag, sometimes one every user may have ("sales"). */
export function datasetName(world: World, user: FuzzUser, shared: boolean): string {
  if (shared) return 'sales'
  const name = `${user.nameTag}x${++user.serial}`
  world.own(name, user.index, 'name')
  return name
}

/** Rows carry the owner's secret marker, so a row shown to anyone else is caught. */
export function datasetCsv(world: World, user: FuzzUser): string {
  const rows = ['region,amount,tag']
  for (const [i, region] of ['North', 'South', 'East'].entries())
    rows.push(`${region},${(user.index + 1) * 100 + i},${world.content(user, 'row')}`)
  return rows.join('\n') + '\n'
}

export async function createDataset(ctx: StepContext, shared: boolean) {
  const name = datasetName(ctx.world, ctx.actor, shared)
  const answer = await ctx.http('POST', '/api/datasets', { body: { name, csv: datasetCsv(ctx.world, ctx.actor) } })
  if (shared && answer.status === 409 && answer.json.error.code === 'dataset_exists') return 'own-exists'
  expectStatus(answer, 201)
  ctx.actor.datasets.live.set(answer.json.dataset.id, { name })
  ctx.actor.datasetsVersion++
  return 'own'
}

export const datasetOps: FuzzOp[] = [
  {
    name: 'datasets.list',
    weight: 3,
    async run(ctx) {
      const answer = await listAll(ctx, '/api/datasets', 'datasets')
      const listed = new Map<string, string>(answer.items.map((d: any) => [d.id, d.name]))
      for (const id of listed.keys())
        if (ctx.world.ownerOf(id)?.owner !== ctx.actor.index)
          throw new FuzzFailure(`${answer.where}: dataset ${id} is not user ${ctx.actor.index}'s`)
      for (const [id, model] of ctx.actor.datasets.live)
        if (listed.get(id) !== model.name)
          throw new FuzzFailure(
            `${answer.where}: user ${ctx.actor.index}'s dataset ${id} "${model.name}" is missing or renamed`,
          )
      return 'own'
    },
  },
  {
    name: 'datasets.create',
    weight: 2,
    run: (ctx) => createDataset(ctx, ctx.rand.bool(0.3)),
  },
  onRef(
    {
      name: 'datasets.get',
      weight: 3,
      pick: pickKept(DATASETS),
      method: 'GET',
      path: (id) => `/api/datasets/${id}`,
      status: 200,
    },
    (ctx, id, answer) => {
      if (
        answer.json.dataset.id !== id ||
        !answer.json.rows.every((row: any) => String(row.tag).includes(ctx.actor.marker))
      )
        throw new FuzzFailure(`${answer.where}: not the user's own rows: ${answer.text.slice(0, 300)}`)
    },
  ),
  deleteKept(
    'datasets.delete',
    1,
    DATASETS,
    (id) => `/api/datasets/${id}`,
    (ctx) => ctx.actor.datasetsVersion++,
  ),
]

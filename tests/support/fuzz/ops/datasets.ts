/** /api/datasets: list, upload, get (with rows), delete — own and foreign ids. */
import { expectNotFound, expectStatus } from '../client'
import { FuzzFailure } from '../world'
import { listAll } from './list'
import { label, pickRef } from './pick'
import type { FuzzOp, FuzzUser, StepContext } from './types'
import type { World } from '../world'

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
  for (const [i, region] of ['North', 'South', 'East'].entries()) rows.push(`${region},${(user.index + 1) * 100 + i},${world.content(user, 'row')}`)
  return rows.join('\n') + '\n'
}

export async function createDataset(ctx: StepContext, shared: boolean) {
  const name = datasetName(ctx.world, ctx.actor, shared)
  const answer = await ctx.http('POST', '/api/datasets', { body: { name, csv: datasetCsv(ctx.world, ctx.actor) } })
  if (shared && answer.status === 409 && answer.json.error.code === 'dataset_exists') return 'own-exists'
  expectStatus(answer, 201)
  ctx.actor.datasets.set(answer.json.dataset.id, { name })
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
      for (const id of listed.keys()) if (ctx.world.ownerOf(id)?.owner !== ctx.actor.index) throw new FuzzFailure(`${answer.where}: dataset ${id} is not user ${ctx.actor.index}'s`)
      for (const [id, model] of ctx.actor.datasets) if (listed.get(id) !== model.name) throw new FuzzFailure(`${answer.where}: user ${ctx.actor.index}'s dataset ${id} "${model.name}" is missing or renamed`)
      return 'own'
    },
  },
  {
    name: 'datasets.create',
    weight: 2,
    run: (ctx) => createDataset(ctx, ctx.rand.bool(0.3)),
  },
  {
    name: 'datasets.get',
    weight: 3,
    async run(ctx) {
      const r = pickRef(ctx, ctx.target.datasets.keys(), ctx.target.deletedDatasets)
      const answer = await ctx.http('GET', `/api/datasets/${r.id}`)
      if (!r.mine) return expectNotFound(answer), label(ctx, r)
      expectStatus(answer, 200)
      if (answer.json.dataset.id !== r.id || !answer.json.rows.every((row: any) => String(row.tag).includes(ctx.actor.marker))) throw new FuzzFailure(`${answer.where}: not the user's own rows: ${answer.text.slice(0, 300)}`)
      return 'own'
    },
  },
  {
    name: 'datasets.delete',
    weight: 1,
    async run(ctx) {
      const r = pickRef(ctx, ctx.target.datasets.keys(), ctx.target.deletedDatasets)
      const answer = await ctx.http('DELETE', `/api/datasets/${r.id}`)
      if (!r.mine) return expectNotFound(answer), label(ctx, r)
      expectStatus(answer, 204)
      ctx.actor.datasets.delete(r.id)
      ctx.actor.deletedDatasets.add(r.id)
      ctx.actor.datasetsVersion++
      return 'own'
    },
  },
]

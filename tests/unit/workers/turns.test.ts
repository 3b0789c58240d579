import { expect, test } from 'bun:test'
import { workerTurns } from '../../../src/workers/turns'

test('at most `concurrency` hold a turn; the others get theirs in arrival order as turns are released', async () => {
  const turns = workerTurns()
  const order: string[] = []
  const first = await turns.take(1)
  const second = turns.take(1).then((release) => (order.push('second'), release))
  const third = turns.take(1).then((release) => (order.push('third'), release))
  await Bun.sleep(0)
  expect(order).toEqual([]) // both wait while the first holds the only turn
  first()
  first() // a second release of the same turn gives nothing more
  const releaseSecond = await second
  await Bun.sleep(0)
  expect(order).toEqual(['second'])
  releaseSecond()
  ;(await third)()
  expect(order).toEqual(['second', 'third'])
})

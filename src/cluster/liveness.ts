import { log } from '../log'
import type { RunJournalStore } from '../db/repositories/runs'
import type { RunManager } from '../runs/service'
import type { RedisCluster } from './redis'

/**
 * Every process heartbeats (RedisCluster); this sweeper looks for runs still marked running
 * on a process whose heartbeat is gone, and closes them as failed (`node_lost`) with their
 * `agent_completed`, delivered through the bus to the owners' connections on the survivors.
 */
export function startLivenessSweeper(cluster: RedisCluster, runs: RunManager, journal: RunJournalStore, intervalMs = 2000): () => void {
  let busy = false
  const sweep = async () => {
    if (busy) return
    busy = true
    try {
      for (const nodeId of await journal.runningNodeIds()) {
        if (nodeId === cluster.nodeId || (await cluster.isAlive(nodeId))) continue
        if (!(await cluster.claimTakeover(nodeId))) continue
        const closed = await runs.recoverInterrupted('node_lost', 'the server process running this run stopped; send your message again', [nodeId])
        if (closed > 0) log.warn('closed the runs of a lost process', { nodeId, count: closed })
      }
    } catch (error) {
      log.debug('liveness sweep skipped', { error: String(error) })
    } finally {
      busy = false
    }
  }
  const timer = setInterval(() => void sweep(), intervalMs)
  timer.unref?.()
  void sweep()
  return () => clearInterval(timer)
}

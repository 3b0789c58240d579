import { log } from '../log'
import type { RunJournalStore } from '../db/repositories/runs'
import type { RunManager } from '../runs/service'
import { LIVENESS_GRACE_MS, type RedisCluster } from './redis'

const LOST_MESSAGE = 'the server process running this run stopped; send your message again'

/**
 * Every process heartbeats (RedisCluster); this sweeper looks for runs still marked running
 * on a process whose heartbeat is gone, and closes them as failed (`node_lost`) with their
 * `agent_completed`, delivered through the bus to the owners' connections on the survivors.
 *
 * - A node is declared dead only while our own Redis connection has been up for
 *   LIVENESS_GRACE_MS: right after a Redis restart no heartbeat key exists yet, and live nodes
 *   must not lose their runs to that.
 * - One survivor claims each dead node (`takeover:<node>`), so each run gets one closing event.
 * - Runs recorded under our own NODE_ID but not running here are from an earlier life of this
 *   process (restarted under the same NODE_ID after a crash): no one else would close them, so
 *   the first sweep does (`server_restart`, like a single process does on start).
 */
export function startLivenessSweeper(cluster: RedisCluster, runs: RunManager, journal: RunJournalStore, intervalMs = 1000): () => void {
  const startedAt = Date.now()
  let ownChecked = false
  let busy = false
  const sweep = async () => {
    if (busy) return
    busy = true
    try {
      if (!ownChecked) {
        const closed = await runs.recoverInterrupted('server_restart', 'the server restarted while this run was in progress', [cluster.nodeId], { createdBefore: startedAt })
        ownChecked = true
        if (closed > 0) log.warn('closed runs interrupted by the last stop of this node', { nodeId: cluster.nodeId, count: closed })
      }
      if (!cluster.upSince || Date.now() - cluster.upSince < LIVENESS_GRACE_MS) return
      for (const nodeId of await journal.runningNodeIds()) {
        if (nodeId === cluster.nodeId || (await cluster.isAlive(nodeId))) continue
        if (!(await cluster.claimTakeover(nodeId))) continue
        const closed = await runs.recoverInterrupted('node_lost', LOST_MESSAGE, [nodeId], { republishTail: 1000 })
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

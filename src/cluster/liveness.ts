import { log } from '../log'
import { ERROR_CODES } from '../protocol'
import type { RunJournalStore } from '../db/repositories/runs'
import type { RunManager } from '../runs/service'
import type { RedisCluster } from './redis'

const LOST_MESSAGE = 'the server process running this run stopped; send your message again'

/**
 * Every process heartbeats (RedisCluster); this sweeper looks for runs still marked running
 * on a process whose heartbeat is gone and continues them here (PROTOCOL.md §9: resumed from
 * their last stored event, their events delivered through the bus to the owners' connections
 * on every survivor). A run resumed RUN_RESUME_MAX_ATTEMPTS times already is closed as failed
 * (`node_lost`) with its `agent_completed` instead.
 *
 * - No node is declared dead within LIVENESS_GRACE_MS of a Redis (re)start or of our own
 *   reconnect: right after a Redis restart no heartbeat key exists yet, and live nodes that are
 *   still reconnecting must not lose their runs to that.
 * - One survivor claims each dead node (`takeover:<node>`), so each run gets one closing event.
 * - Runs recorded under our own NODE_ID but not running here are from an earlier life of this
 *   process (restarted under the same NODE_ID after a crash): no one else would close them, so
 *   the first sweep resumes them, or fails them with `node_lost` like any lost process's runs in
 *   cluster mode (PROTOCOL.md §9; `server_restart` is the single server's code).
 */
export function startLivenessSweeper(
  cluster: RedisCluster,
  runs: RunManager,
  journal: RunJournalStore,
  intervalMs = 1000,
): () => void {
  const startedAt = Date.now()
  let ownChecked = false
  let busy = false
  const sweep = async () => {
    if (busy) return
    busy = true
    try {
      if (!ownChecked) {
        // Claimed like any takeover: a survivor that already took our old runs over does it.
        if (await cluster.claimTakeover(cluster.nodeId)) {
          const { resumed, failed } = await runs.resumeInterrupted(
            ERROR_CODES.nodeLost,
            LOST_MESSAGE,
            [cluster.nodeId],
            { createdBefore: startedAt },
          )
          if (resumed + failed > 0)
            log.warn('took over the runs interrupted by the last stop of this node', {
              nodeId: cluster.nodeId,
              resumed,
              failed,
            })
          await cluster.releaseTakeover(cluster.nodeId)
        }
        ownChecked = true
      }
      if ((await cluster.livenessGraceLeft()) > 0) return
      for (const nodeId of await journal.runningNodeIds()) {
        if (nodeId === cluster.nodeId || (await cluster.isAlive(nodeId))) continue
        if (!(await cluster.claimTakeover(nodeId))) continue
        const { resumed, failed } = await runs.resumeInterrupted(ERROR_CODES.nodeLost, LOST_MESSAGE, [nodeId], {
          republishTail: 1000,
        })
        if (resumed + failed > 0) log.warn('took over the runs of a lost process', { nodeId, resumed, failed })
        await cluster.releaseTakeover(nodeId)
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

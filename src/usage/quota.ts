import type { UsersRepository } from '../db/repositories/users'
import { admitIn, DAY_MS, type UsageRepository } from '../db/repositories/usage'
import type { Tx } from '../db/group-commit'
import { QuotaExceededError } from '../http/errors'
import { log } from '../log'
import { quotaStatus, secondsUntilFits, type QuotaLimits, type QuotaStatus } from './limits'

/**
 * The quota seam of the run manager, beside the run cap's `RunLimiter`: `admit` counts a run or
 * refuses it with `quota_exceeded`, `settle` adds the tokens Ollama reported when it ends.
 */
export interface QuotaGate {
  admit(userId: string, run: { runId: string; model: string }): Promise<void>
  /**
   * The same count, to be made inside the write that starts the run (one transaction for both):
   * `claim` counts it in `tx` or returns false (nothing written); `refusal` is then the error.
   */
  admission(userId: string, run: { runId: string; model: string }): Promise<Admission>
  /** Takes back an admitted run that never started. */
  cancel(runId: string): Promise<void>
  settle(runId: string, usage: { promptTokens: number; completionTokens: number }): Promise<void>
}

export interface Admission {
  claim(tx: Tx): Promise<boolean>
  refusal(): Promise<Error>
}

/**
 * Rolling-24 h quotas counted in the database. The admission is one conditional INSERT, so every
 * process sharing the database (cluster mode shares it by definition) counts against the same
 * rows: no Redis state to lose, and a restart forgets nothing.
 */
export function databaseQuota(deps: {
  usage: UsageRepository
  users: UsersRepository
  defaults: QuotaLimits
  now?: () => number
}) {
  const now = deps.now ?? Date.now

  async function limitsOf(userId: string): Promise<QuotaLimits> {
    const user = await deps.users.findById(userId)
    return {
      runsPerDay: user?.quotaRunsPerDay ?? deps.defaults.runsPerDay,
      tokensPerDay: user?.quotaTokensPerDay ?? deps.defaults.tokensPerDay,
    }
  }

  /** quota_exceeded, with when the user's window has room again. */
  async function refusal(userId: string, limits: QuotaLimits, at: number): Promise<Error> {
    const events = await deps.usage.window(userId, at - DAY_MS)
    const retryAfter = Math.max(1, secondsUntilFits(limits, events, at))
    const which =
      limits.runsPerDay > 0 && events.length >= limits.runsPerDay
        ? `${limits.runsPerDay} runs`
        : `${limits.tokensPerDay} tokens`
    return new QuotaExceededError(
      retryAfter,
      `you have used your quota of ${which} in the last 24 hours; try again in ${formatWait(retryAfter)}`,
    )
  }

  return {
    limitsOf,

    async status(userId: string): Promise<QuotaStatus> {
      const at = now()
      return quotaStatus(await limitsOf(userId), await deps.usage.window(userId, at - DAY_MS))
    },

    // The admission reads the user's own limits inside its statement (admitIn); they are read
    // here only to explain a refusal.
    async admit(userId: string, run: { runId: string; model: string }): Promise<void> {
      const at = now()
      if (await deps.usage.admit({ userId, runId: run.runId, model: run.model, at, ...deps.defaults })) return
      throw await refusal(userId, await limitsOf(userId), at)
    },

    async admission(userId: string, run: { runId: string; model: string }): Promise<Admission> {
      const at = now()
      return {
        claim: (tx) => admitIn(tx, { userId, runId: run.runId, model: run.model, at, ...deps.defaults }),
        refusal: async () => refusal(userId, await limitsOf(userId), at),
      }
    },

    async cancel(runId: string): Promise<void> {
      await deps.usage
        .cancel(runId)
        .catch((error) => log.error('could not take back a quota admission', { runId, error: String(error) }))
    },

    async settle(runId: string, usage: { promptTokens: number; completionTokens: number }): Promise<void> {
      const prompt = Math.max(0, Math.floor(usage.promptTokens || 0))
      const completion = Math.max(0, Math.floor(usage.completionTokens || 0))
      await deps.usage
        .settle(runId, prompt, completion)
        .catch((error) => log.error('could not count a run’s tokens', { runId, error: String(error) }))
    },
  } satisfies QuotaGate & Record<string, unknown>
}

export type DatabaseQuota = ReturnType<typeof databaseQuota>

function formatWait(seconds: number): string {
  if (seconds < 90) return `${seconds} s`
  if (seconds < 90 * 60) return `${Math.ceil(seconds / 60)} min`
  return `${Math.ceil(seconds / 3600)} h`
}

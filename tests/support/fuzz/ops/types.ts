/**
 * The operation catalogue's shape. Each API area has one file in this folder exporting a list of
 * FuzzOps; ops/index.ts joins them. An op issues its requests as `ctx.actor`, using ids of
 * `ctx.target` (another user when the actor is hostile), records what it created in the world
 * (so the oracle knows who owns each id and marker) and returns an outcome label for the counts.
 * Answers and frames are scanned by the oracle on the way in (ctx.http, ctx.anon) and after the
 * step (every socket), so an op only asserts what is specific to it: the right status, 404 for a
 * foreign id, and its model of the user's data.
 */
import type { FuzzSocket, FuzzUser, World } from '../world'
import type { Answer, FuzzStack, RequestOptions } from '../client'
import type { Rand } from '../rand'

export interface StepContext {
  world: World
  stack: FuzzStack
  actor: FuzzUser
  /** Whose ids the op uses: the actor itself, or (for a hostile actor) often someone else. */
  target: FuzzUser
  /** actor !== target */
  hostile: boolean
  rand: Rand
  /** A request as the actor (its access token unless `token` says otherwise), checked and scanned. */
  http(method: string, path: string, opts?: RequestOptions): Promise<Answer>
  /** A request without credentials, scanned as an anonymous client (nothing of anyone may show). */
  anon(method: string, path: string, opts?: RequestOptions): Promise<Answer>
  /** Marks `token` as sent by the actor (see World.send). */
  send(token: string): string
  /** An open, authenticated socket of the actor (opens one when it has none). */
  socket(): Promise<FuzzSocket>
}

export interface FuzzOp {
  /** `area.what`, e.g. `threads.get`. */
  name: string
  /** Relative frequency (fractions allowed: ops that hash a password cost ~0.3 s, so they are rarer). */
  weight: number
  /** Runs alone (it changes another user's sessions, so concurrent ops could not predict their answers). */
  exclusive?: boolean
  /** Does the request(s) and its checks; returns an outcome label ("own", "foreign-404", …). */
  run(ctx: StepContext): Promise<string>
}

export type { Answer, FuzzSocket, FuzzUser }

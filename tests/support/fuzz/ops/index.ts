/**
 * The operation catalogue: every API area's ops in one list. A new route joins the fuzzer by
 * adding its ops in a file of this folder (see types.ts) and one line here.
 */
import { accountOps } from './account'
import { adminOps } from './admin'
import { authOps } from './auth'
import { chatOps } from './chat'
import { conversationOps } from './conversations'
import { datasetOps } from './datasets'
import { documentOps } from './documents'
import { keyOps } from './keys'
import { metaOps } from './meta'
import { noteOps } from './notes'
import { runOps } from './runs'
import { shareOps } from './shares'
import { threadOps } from './threads'
import { wsOps } from './ws'
import type { FuzzOp } from './types'

export const catalogue: FuzzOp[] = [
  ...authOps,
  ...threadOps,
  ...runOps,
  ...noteOps,
  ...datasetOps,
  ...metaOps,
  ...chatOps,
  ...wsOps,
  ...conversationOps,
  ...shareOps,
  ...documentOps,
  ...keyOps,
  ...accountOps,
  ...adminOps,
]

/**
 * The operation catalogue: every API area's ops in one list. A new route joins the fuzzer by
 * adding its ops in a file of this folder (see types.ts) and one line here.
 */
import { authOps } from './auth'
import { chatOps } from './chat'
import { datasetOps } from './datasets'
import { metaOps } from './meta'
import { noteOps } from './notes'
import { runOps } from './runs'
import { threadOps } from './threads'
import { wsOps } from './ws'
import type { FuzzOp } from './types'

export const catalogue: FuzzOp[] = [...authOps, ...threadOps, ...runOps, ...noteOps, ...datasetOps, ...metaOps, ...chatOps, ...wsOps]

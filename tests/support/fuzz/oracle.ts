/**
 * The isolation oracle: after every step, every answer body and every WebSocket frame a user
 * received is scanned for anything that belongs to another user — their secret marker, an id
 * of theirs, a dataset name of theirs, their account — except values the viewer itself sent
 * (an error that names the id you asked for is an echo, not a leak).
 */
import { FuzzFailure, type FuzzUser, type World } from './world'

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi
const SECRET = /secret-\d+-[a-z0-9]+/g
const NAME = /dsname-\d+-[a-z0-9]+/g
const EMAIL = /fuzz\d+-[a-z0-9]+@example\.test/gi
/** API key secrets and their shown prefixes (`lcs_` + base64url). */
const KEY = /lcs_[A-Za-z0-9_-]{8,}/g
/** Share ids (144 bits, base64url): the link itself, so only its owner may ever see one. */
const SHARE = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{24}(?![A-Za-z0-9_-])/g

export interface ScanOptions {
  /** Admin views may show other accounts (ids, emails), never their content. */
  allowAccounts?: boolean
  /**
   * Admin views may also name other users' ids (usage rows, audit targets) — never content:
   * markers, dataset names, key secrets and share ids are still leaks. Unknown ids are not claimed.
   */
  allowIds?: boolean
  /** Error answers use OpenAI's shape `{"error":{"message","type","code"}}` (/v1). */
  openaiErrors?: boolean
}

function leak(world: World, viewer: FuzzUser | null, token: string, where: string, text: string): never {
  const owner = world.ownerOf(token)!
  const at = text.indexOf(token)
  const excerpt = text.slice(Math.max(0, at - 120), at + token.length + 120)
  throw new FuzzFailure(
    `${where}: ${viewer ? `user ${viewer.index}` : 'an anonymous client'} received ${owner.kind} "${token}" of user ${owner.owner}: …${excerpt}…`,
  )
}

/**
 * Scans `text` as seen by `viewer` (null: anonymous). Throws a FuzzFailure on a foreign value.
 * A UUID nobody owns yet becomes the viewer's (first seen): if it later reaches another user,
 * that is caught too.
 */
export function scan(world: World, viewer: FuzzUser | null, text: string, where: string, opts: ScanOptions = {}) {
  for (const re of [SECRET, NAME, EMAIL, KEY, SHARE, UUID]) {
    re.lastIndex = 0
    for (const match of text.matchAll(re)) {
      const token = re === UUID || re === EMAIL ? match[0].toLowerCase() : match[0]
      const owner = world.ownerOf(token)
      if (!owner) {
        if (viewer && re === UUID && !opts.allowIds) world.own(token, viewer.index, 'id')
        continue
      }
      if (viewer && owner.owner === viewer.index) continue
      if (viewer?.sent.has(token)) continue
      if (opts.allowAccounts && owner.kind === 'account') continue
      if (opts.allowIds && owner.kind === 'id') continue
      leak(world, viewer, token, where, text)
    }
  }
}

const STACK = /\bat .+:\d+:\d+|\.ts:\d+|node_modules/

/**
 * Every error answer is the envelope `{"error":{"code","message"}}` (PROTOCOL.md §2), and no
 * answer is a 500 or shows a stack trace.
 */
export function checkEnvelope(status: number, text: string, where: string, openai = false) {
  if (status >= 500) throw new FuzzFailure(`${where}: status ${status}: ${text.slice(0, 300)}`)
  if (STACK.test(text))
    throw new FuzzFailure(`${where}: the answer shows a stack trace or source path: ${text.slice(0, 300)}`)
  if (status < 400) return
  let body: any
  try {
    body = JSON.parse(text)
  } catch {
    throw new FuzzFailure(`${where}: error ${status} is not JSON: ${text.slice(0, 200)}`)
  }
  const keys = body && typeof body === 'object' ? Object.keys(body) : []
  const inner = body?.error && typeof body.error === 'object' ? Object.keys(body.error).sort().join(',') : ''
  if (
    keys.join(',') !== 'error' ||
    inner !== (openai ? 'code,message,type' : 'code,message') ||
    !/^[a-z][a-z0-9_]*$/.test(body.error.code) ||
    typeof body.error.message !== 'string'
  ) {
    throw new FuzzFailure(`${where}: error ${status} is not the error envelope: ${text.slice(0, 200)}`)
  }
}

/** Problems the scripted model noticed in a request (another user's data in a prompt). */
export function checkViolations(world: World) {
  if (world.violations.length > 0) throw new FuzzFailure(world.violations[0])
}

/**
 * Scans every frame that arrived on the user's sockets since the last scan. With `trim` (only
 * between steps, when no op is waiting on a socket) scanned frames and closed sockets are dropped,
 * so a long run keeps its memory flat.
 */
export function scanSockets(world: World, user: FuzzUser, trim = false) {
  for (const socket of user.sockets) {
    const frames = socket.client.frames
    for (; socket.scanned < frames.length; socket.scanned++) {
      const frame = frames[socket.scanned]!
      const where = `ws frame ${frame.type} to user ${user.index}`
      if (frame.type === 'ready' && frame.userId !== user.id)
        throw new FuzzFailure(`${where}: ready names user ${frame.userId}`)
      scan(world, user, JSON.stringify(frame), where)
      // A run event must be of a run of this user (scan() made unknown run ids theirs, so a
      // run of another user is caught above; this also catches a run the oracle saw as nobody's).
      if (typeof frame.seq === 'number' && typeof frame.runId === 'string') {
        const owner = world.ownerOf(frame.runId.toLowerCase())
        if (owner && owner.owner !== user.index)
          throw new FuzzFailure(`${where}: an event of user ${owner.owner}'s run ${frame.runId}`)
      }
    }
    if (trim && socket.scanned > 1000) {
      frames.splice(0, socket.scanned)
      socket.scanned = 0
    }
  }
  if (trim) user.sockets = user.sockets.filter((s) => !s.closed || s.scanned < s.client.frames.length)
}

/** The whole post-step check: the model's violations, then every user's new frames. */
export function checkWorld(world: World) {
  checkViolations(world)
  for (const user of world.users) scanSockets(world, user, true)
}

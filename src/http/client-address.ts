import { isIP } from 'node:net'
import proxyaddr from 'proxy-addr'

/** Who decides whether X-Forwarded-For is believed: the compiled TRUSTED_PROXIES list. */
export type TrustProxy = (address: string, hop: number) => boolean

/**
 * Compiles TRUSTED_PROXIES (addresses and CIDRs, IPv4 and IPv6, or proxy-addr's names
 * `loopback`, `linklocal`, `uniquelocal`); throws TypeError on an invalid entry.
 */
export function compileTrustedProxies(list: string[]): TrustProxy {
  return proxyaddr.compile(list)
}

export const trustNobody: TrustProxy = () => false

/**
 * The client's address (PROTOCOL.md §5): the peer's, unless the peer is a trusted proxy — then
 * the last hop of X-Forwarded-For that is not a trusted proxy (walking back from the peer), so a
 * client can't pick its own address by sending the header itself. A hop that is not an IP address
 * is not believed: the peer's address stands.
 */
export function clientAddress(request: Request, peer: string | undefined, trust: TrustProxy): string {
  if (!peer) return 'unknown'
  const forwarded = request.headers.get('x-forwarded-for') ?? undefined
  // proxy-addr reads a Node request; this is the part of one it looks at.
  const nodeLike = {
    connection: { remoteAddress: peer },
    socket: { remoteAddress: peer },
    headers: { 'x-forwarded-for': forwarded },
  }
  try {
    // What a proxy passed on is believed only as an address: text that is not one (a client's
    // invention the proxy forwarded) would become a rate-limit key and an audit `ip`.
    const address = proxyaddr(nodeLike as any, trust)
    return isIP(address) ? address : peer
  } catch {
    return peer
  }
}

type PeerServer = { requestIP(request: Request): { address: string } | null } | null | undefined

/** `clientAddress` for an Elysia handler's `request` and `server`. */
export function requestAddress(request: Request, server: PeerServer, trust: TrustProxy): string {
  return clientAddress(request, server?.requestIP(request)?.address, trust)
}

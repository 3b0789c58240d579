import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import proxyaddr from 'proxy-addr'
import type { LogLevel } from './log'

/** Every setting of the server, parsed and validated once at start (PROTOCOL.md §1). */
export interface Config {
  host: string
  port: number
  databaseUrl: string
  databaseAuthToken?: string
  /** Folder for the SQLite file and the generated JWT secret. */
  dataDir: string
  ollamaHosts: string[]
  ollamaModel: string
  /** Embedding model for documents (OLLAMA_EMBED_MODEL). */
  ollamaEmbedModel: string
  /** Largest document upload in bytes (DOCUMENT_MAX_BYTES). */
  documentMaxBytes: number
  /** Milliseconds one PDF may be read for, at upload or during ingestion (PDF_READ_TIMEOUT_MS). */
  pdfReadTimeoutMs: number
  /** Bytes the process may grow by while one PDF is read (PDF_READ_MEMORY_MB). */
  pdfReadMemoryBytes: number
  /** Memory for the searching users' document vectors (DOCUMENT_VECTOR_CACHE_MB; 0 = none). */
  documentVectorCacheBytes: number
  /** How much of the database file SQLite may map for reads (SQLITE_MMAP_MB; 0 = none). */
  sqliteMmapBytes: number
  jwtSecret: string
  jwtIssuer: string
  jwtAudience: string
  accessTokenTtl: number
  refreshTokenTtl: number
  allowSignup: boolean
  logLevel: LogLevel
  maxRunsPerUser: number
  /** Rolling-24 h limits per user unless an admin set the user's own (QUOTA_*; 0 = none). */
  quota: { runsPerDay: number; tokensPerDay: number }
  /** Model access (docs/operations.md, "Model access: fair queue and circuit breaker"). */
  llm: {
    /** Requests one Ollama host serves per model at a time (OLLAMA_SLOTS). */
    slots: number
    /** Requests one user may have waiting for the model (LLM_QUEUE_PER_USER). */
    queuePerUser: number
    /** Requests that may wait for the model in all (LLM_QUEUE_MAX). */
    queueMax: number
    /** Consecutive failures that open a host's circuit (BREAKER_FAILURES). */
    breakerFailures: number
    /** Milliseconds an open circuit waits before letting one probe through (BREAKER_COOLDOWN_MS). */
    breakerCooldownMs: number
  }
  redisUrl?: string
  /** This process's name in cluster mode (runs record it; liveness checks it). */
  nodeId: string
  /**
   * Failed logins per (account, client address) before growing back-off (1 s, 2 s, 4 s … up to
   * the window); per client address across accounts, 10× as many failures per window.
   */
  loginRateLimit: { max: number; windowSeconds: number }
  /** Registrations per client address in one window (each costs an argon2 hash). */
  registerRateLimit: { max: number; windowSeconds: number }
  /** TRUSTED_PROXIES: the proxies whose X-Forwarded-For is believed (empty: none). */
  trustedProxies: string[]
  /** Milliseconds a run may take in all before it is failed with `timeout`. */
  runTimeoutMs: number
  /** Milliseconds one tool call may take. */
  toolTimeoutMs: number
  /** Model steps (model answers) one run may take before it completes with what it has. */
  maxAgentSteps: number
  /** How long SIGTERM waits for in-flight runs before cancelling them. */
  shutdownGraceMs: number
  /** Times a run is continued after its process died; one more death fails it (RUN_RESUME_MAX_ATTEMPTS). */
  runResumeMaxAttempts: number
  /** Bytes queued for one slow WebSocket reader before it is closed with 1013. */
  wsMaxBufferedBytes: number
  /** How long a resume replay may wait for a client that reads nothing before it is closed with 1013. */
  wsReplayStallMs: number
  /** Frames (and their bytes) one WebSocket may have waiting to be handled before it is closed with 1013. */
  wsMaxQueuedFrames: number
  wsMaxQueuedBytes: number
  /** Build and serve the web UI's source maps (off: nobody can read the UI's source tree). */
  webSourceMaps: boolean
  /** How long a finished run's events stay in memory for resumes (then the database serves them). */
  journalGraceMs: number
  /** Largest body `POST /api/threads/import` reads (IMPORT_MAX_BYTES). */
  importMaxBytes: number
  oidc?: { issuer: string; clientId: string; clientSecret: string; redirectUri: string; linkByEmail: boolean }
  alertWebhookUrl?: string
  /** Alert rules (docs/operations.md#alerts). */
  alerts: {
    minIntervalMs: number
    failureRate: number
    failureMinRuns: number
    failureWindowMs: number
    timeoutMs: number
  }
}

export type { LogLevel } from './log'

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`)
  }
}

type Env = Record<string, string | undefined>

function intVar(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`)
  const value = Number(raw)
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`)
  return value
}

function numberVar(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim()
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!/^[0-9.eE+-]+$/.test(raw) || !Number.isFinite(value))
    throw new ConfigError(name, `must be a number, got "${env[name]}"`)
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`)
  return value
}

function boolVar(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase()
  if (raw === undefined || raw === '') return fallback
  if (['true', '1', 'yes', 'on'].includes(raw)) return true
  if (['false', '0', 'no', 'off'].includes(raw)) return false
  throw new ConfigError(name, `must be true or false, got "${env[name]}"`)
}

function urlVar(name: string, raw: string, protocols: string[]): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError(name, `must be a URL, got "${raw}"`)
  }
  if (!protocols.includes(url.protocol))
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got "${url.protocol}"`)
  return raw.replace(/\/+$/, '')
}

/** TRUSTED_PROXIES: comma-separated addresses/CIDRs, each checked now so a typo stops the start. */
function trustedProxiesVar(env: Env): string[] {
  const list = (env.TRUSTED_PROXIES ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean)
  for (const entry of list) {
    try {
      proxyaddr.compile([entry])
    } catch {
      throw new ConfigError(
        'TRUSTED_PROXIES',
        `must be a comma-separated list of IP addresses or CIDRs (or loopback, linklocal, uniquelocal), got "${entry}"`,
      )
    }
  }
  return list
}

/** The secret is generated once and kept beside the database so restarts keep old tokens valid. */
function loadOrCreateSecret(dataDir: string): string {
  const file = join(dataDir, 'jwt-secret')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  writeFileSync(file, secret + '\n', { mode: 0o600 })
  chmodSync(file, 0o600)
  return secret
}

function dataDirOf(databaseUrl: string, env: Env): string {
  if (env.DATA_DIR) return env.DATA_DIR
  if (databaseUrl.startsWith('file:')) return dirname(databaseUrl.slice('file:'.length)) || '.'
  return './data'
}

/** Reads a `.env` file (KEY=value lines) without overriding variables already set. */
export function readDotEnv(path = '.env', env: Env = process.env): void {
  if (!existsSync(path)) return
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line)
    if (!match || line.trim().startsWith('#')) continue
    const [, key, rawValue] = match
    const value = rawValue.replace(/^(['"])(.*)\1$/, '$2')
    if (env[key] === undefined) env[key] = value
  }
}

export function loadConfig(env: Env = process.env): Config {
  const host = env.HOST || '127.0.0.1'
  const port = intVar(env, 'PORT', 3000, 0, 65535)

  const databaseUrl = env.DATABASE_URL || 'file:./data/chat.db'
  if (!/^(file:|:memory:$|libsql:\/\/|https?:\/\/|wss?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError(
      'DATABASE_URL',
      `must start with file:, libsql://, http(s):// or be :memory:, got "${databaseUrl}"`,
    )
  }
  const dataDir = dataDirOf(databaseUrl, env)

  const ollamaHosts = (env.OLLAMA_HOST || 'http://127.0.0.1:11434')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean)
    // A bare host:port gets http://; any other scheme is kept so the check below refuses it.
    .map((h) => urlVar('OLLAMA_HOST', /^[a-z][a-z0-9+.-]*:\/\//i.test(h) ? h : `http://${h}`, ['http:', 'https:']))
  if (ollamaHosts.length === 0) throw new ConfigError('OLLAMA_HOST', 'must name at least one host')

  const jwtSecret = env.JWT_SECRET || loadOrCreateSecret(dataDir)
  if (Buffer.byteLength(jwtSecret) < 32) throw new ConfigError('JWT_SECRET', 'must be at least 32 bytes long')

  const logLevel = (env.LOG_LEVEL || 'info') as LogLevel
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of debug, info, warn, error, silent, got "${env.LOG_LEVEL}"`)
  }

  const oidcVars = ['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_REDIRECT_URI'] as const
  const oidcSet = oidcVars.filter((v) => env[v])
  if (oidcSet.length > 0 && oidcSet.length < oidcVars.length) {
    const missing = oidcVars.filter((v) => !env[v])
    throw new ConfigError(missing[0], `must be set together with ${oidcSet.join(', ')}`)
  }

  return {
    host,
    port,
    databaseUrl,
    databaseAuthToken: env.DATABASE_AUTH_TOKEN || undefined,
    dataDir,
    ollamaHosts,
    ollamaModel: env.OLLAMA_MODEL || 'llama3.2',
    ollamaEmbedModel: env.OLLAMA_EMBED_MODEL?.trim() || 'nomic-embed-text',
    documentMaxBytes: intVar(env, 'DOCUMENT_MAX_BYTES', 20 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    pdfReadTimeoutMs: intVar(env, 'PDF_READ_TIMEOUT_MS', 60_000, 100, 3_600_000),
    pdfReadMemoryBytes: intVar(env, 'PDF_READ_MEMORY_MB', 1024, 16, 64 * 1024) * 1024 * 1024,
    documentVectorCacheBytes: intVar(env, 'DOCUMENT_VECTOR_CACHE_MB', 256, 0, 64 * 1024) * 1024 * 1024,
    sqliteMmapBytes: intVar(env, 'SQLITE_MMAP_MB', 0, 0, 64 * 1024) * 1024 * 1024,
    jwtSecret,
    jwtIssuer: env.JWT_ISSUER || 'local-chat-server',
    jwtAudience: env.JWT_AUDIENCE || 'local-chat-server',
    accessTokenTtl: intVar(env, 'ACCESS_TOKEN_TTL', 900, 1),
    refreshTokenTtl: intVar(env, 'REFRESH_TOKEN_TTL', 2_592_000, 1),
    allowSignup: boolVar(env, 'ALLOW_SIGNUP', true),
    logLevel,
    maxRunsPerUser: intVar(env, 'MAX_RUNS_PER_USER', 4, 1),
    quota: {
      runsPerDay: intVar(env, 'QUOTA_RUNS_PER_DAY', 0, 0),
      tokensPerDay: intVar(env, 'QUOTA_TOKENS_PER_DAY', 0, 0),
    },
    llm: {
      slots: intVar(env, 'OLLAMA_SLOTS', 1, 1, 256),
      queuePerUser: intVar(env, 'LLM_QUEUE_PER_USER', 16, 1),
      queueMax: intVar(env, 'LLM_QUEUE_MAX', 256, 1),
      breakerFailures: intVar(env, 'BREAKER_FAILURES', 3, 1, 1000),
      breakerCooldownMs: intVar(env, 'BREAKER_COOLDOWN_MS', 10_000, 10),
    },
    redisUrl: env.REDIS_URL ? urlVar('REDIS_URL', env.REDIS_URL, ['redis:', 'rediss:']) : undefined,
    nodeId: env.NODE_ID || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    loginRateLimit: {
      max: intVar(env, 'LOGIN_RATE_LIMIT', 10, 1),
      windowSeconds: intVar(env, 'LOGIN_RATE_WINDOW', 300, 1),
    },
    registerRateLimit: {
      max: intVar(env, 'REGISTER_RATE_LIMIT', 10, 1),
      windowSeconds: intVar(env, 'REGISTER_RATE_WINDOW', 3600, 1),
    },
    trustedProxies: trustedProxiesVar(env),
    runTimeoutMs: intVar(env, 'RUN_TIMEOUT_MS', 300_000, 100),
    toolTimeoutMs: intVar(env, 'TOOL_TIMEOUT_MS', 15_000, 10),
    maxAgentSteps: intVar(env, 'MAX_AGENT_STEPS', 8, 1, 100),
    shutdownGraceMs: intVar(env, 'SHUTDOWN_GRACE_MS', 10_000, 0),
    runResumeMaxAttempts: intVar(env, 'RUN_RESUME_MAX_ATTEMPTS', 2, 0, 100),
    journalGraceMs: intVar(env, 'JOURNAL_GRACE_MS', 60_000, 0),
    importMaxBytes: intVar(env, 'IMPORT_MAX_BYTES', 26_214_400, 1024, 1024 * 1024 * 1024),
    wsMaxBufferedBytes: intVar(env, 'WS_MAX_BUFFERED_BYTES', 8 * 1024 * 1024, 1024),
    wsReplayStallMs: intVar(env, 'WS_REPLAY_STALL_MS', 30_000, 100),
    wsMaxQueuedFrames: intVar(env, 'WS_MAX_QUEUED_FRAMES', 64, 1),
    wsMaxQueuedBytes: intVar(env, 'WS_MAX_QUEUED_BYTES', 4 * 1024 * 1024, 1024),
    webSourceMaps: boolVar(env, 'WEB_SOURCE_MAPS', false),
    oidc:
      oidcSet.length === oidcVars.length
        ? {
            issuer: urlVar('OIDC_ISSUER', env.OIDC_ISSUER!, ['http:', 'https:']),
            clientId: env.OIDC_CLIENT_ID!,
            clientSecret: env.OIDC_CLIENT_SECRET!,
            redirectUri: urlVar('OIDC_REDIRECT_URI', env.OIDC_REDIRECT_URI!, ['http:', 'https:']),
            linkByEmail: boolVar(env, 'OIDC_LINK_BY_EMAIL', false),
          }
        : undefined,
    alertWebhookUrl: env.ALERT_WEBHOOK_URL
      ? urlVar('ALERT_WEBHOOK_URL', env.ALERT_WEBHOOK_URL, ['http:', 'https:'])
      : undefined,
    alerts: {
      minIntervalMs: intVar(env, 'ALERT_MIN_INTERVAL_MS', 60_000, 0),
      failureRate: numberVar(env, 'ALERT_FAILURE_RATE', 0.5, 0, 1),
      failureMinRuns: intVar(env, 'ALERT_FAILURE_MIN_RUNS', 10, 1),
      failureWindowMs: intVar(env, 'ALERT_FAILURE_WINDOW_MS', 300_000, 1000),
      timeoutMs: intVar(env, 'ALERT_TIMEOUT_MS', 3000, 100, 60_000),
    },
  }
}

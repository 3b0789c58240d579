import { Elysia } from 'elysia'
import type { Config } from './config'
import { openDatabase, type Database } from './db/client'
import { threadsRepository } from './db/repositories/threads'
import { messagesRepository } from './db/repositories/messages'
import { runsRepository, runJournalStore } from './db/repositories/runs'
import { usersRepository } from './db/repositories/users'
import { accessTokens } from './auth/tokens'
import { refreshTokenStore } from './auth/refresh-tokens'
import { memoryFailureLimiter, memoryRateLimiter } from './auth/rate-limit'
import { compileTrustedProxies } from './http/client-address'
import { cursorSeal } from './db/sealed-cursor'
import { authService } from './auth/service'
import { authGuard, bearerToken } from './auth/guard'
import { sessionsService } from './auth/sessions/service'
import { authRoutes } from './auth'
import { oidcService } from './auth/oidc/service'
import { oidcRoutes } from './auth/oidc'
import { threadsService } from './threads/service'
import { threadRoutes } from './threads'
import { searchRepository } from './db/repositories/search'
import { searchService } from './search/service'
import { searchRoutes } from './search'
import { sharesRepository } from './db/repositories/shares'
import { sharesService } from './shares/service'
import { shareRoutes } from './shares'
import { setupRoutes } from './setup'
import { healthRoutes, type ReadinessProbe } from './health'
import { errorHandler } from './http/errors'
import { securityHeaders } from './http/security-headers'
import { bodyLimit, DEFAULT_BODY_LIMIT, type BodyLimitOptions } from './http/body-limit'
import { log } from './log'
import { createOllamaProvider, modelRoutes } from './llm'
import { LocalBus } from './runs/bus'
import { RunManager, memoryRunLimiter } from './runs/service'
import { runRoutes } from './runs'
import { ConnectionRegistry } from './ws/registry'
import { wsRoutes } from './ws'
import { RedisCluster } from './cluster/redis'
import { startLivenessSweeper } from './cluster/liveness'
import { RunStop } from './runs/outcome'
import { createToolDispatcher } from './tools/dispatcher'
import { builtinTools } from './tools'
import { notesRepository } from './db/repositories/notes'
import { datasetsRepository } from './db/repositories/datasets'
import { notesService } from './notes/service'
import { noteRoutes } from './notes'
import { datasetsService } from './datasets/service'
import { datasetRoutes } from './datasets'
import { agentRoutes } from './agents'
import { webRoutes } from './web'
import { createMetrics, metricsRoutes } from './metrics'
import { apiKeysRepository } from './db/repositories/api-keys'
import { apiKeysService } from './auth/api-keys/service'
import type { ApiAuditEvent } from './auth/api-keys/audit-hook'
import { apiKeyGuard } from './auth/api-keys/guard'
import { apiKeyRoutes } from './auth/api-keys'
import { modelCatalog } from './openai/models'
import { openaiRoutes } from './openai'
import { mcpRoutes } from './mcp'
import { createAlerts } from './alerts'
import { auditRepository } from './db/repositories/audit'
import { usageRepository } from './db/repositories/usage'
import { accountRepository } from './db/repositories/account'
import { auditLog } from './audit'
import { sessionControl } from './admin/session-control'
import { adminService } from './admin/service'
import { adminGuard } from './admin/guard'
import { adminRoutes } from './admin'
import { statusBoard } from './admin/status'
import { databaseQuota } from './usage/quota'
import { usageService } from './usage/service'
import { usageRoutes } from './usage'
import { accountService } from './account/service'
import { accountRoutes } from './account'
import { documentsRepository } from './db/repositories/documents'
import { documentsService } from './documents/service'
import { documentBodyLimit, documentRoutes } from './documents'
import { providerEmbedder } from './documents/embedder'
import { CLOSE_CODES, MAX_FRAME_BYTES, type ServerFrame } from './protocol'

/** Everything the features share, built once from the config. */
export async function createServices(config: Config, database?: Database) {
  const db =
    database ??
    (await openDatabase(config.databaseUrl, config.databaseAuthToken, { mmapBytes: config.sqliteMmapBytes }))
  const repos = {
    users: usersRepository(db),
    threads: threadsRepository(db),
    messages: messagesRepository(db),
    runs: runsRepository(db),
    journal: runJournalStore(db),
    notes: notesRepository(db),
    datasets: datasetsRepository(db),
    audit: auditRepository(db),
    usage: usageRepository(db),
    account: accountRepository(db),
    apiKeys: apiKeysRepository(db),
    search: searchRepository(db),
    shares: sharesRepository(db),
    documents: documentsRepository(db, { vectorCacheBytes: config.documentVectorCacheBytes }),
  }
  // Cluster mode: events, cancels, run caps, login limits and liveness go through Redis.
  const cluster = config.redisUrl ? new RedisCluster(config.redisUrl, config.nodeId) : undefined
  // Abuse limits (PROTOCOL.md §5): failures only, with back-off; shared through Redis in cluster mode.
  const failures = (prefix: string, free: number) =>
    cluster
      ? cluster.failureLimiter(prefix, free, config.loginRateLimit.windowSeconds)
      : memoryFailureLimiter(free, config.loginRateLimit.windowSeconds)
  const { max: registerMax, windowSeconds: registerWindow } = config.registerRateLimit
  const audit = auditLog(repos.audit)
  const recordApiAudit = (event: ApiAuditEvent) => void audit.record(event)
  const access = accessTokens({
    secret: config.jwtSecret,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    ttlSeconds: config.accessTokenTtl,
  })
  const refresh = refreshTokenStore(db, config.refreshTokenTtl)
  // Sessions end at once: one revocation view per process, kept in step through Redis in cluster mode.
  const sessions = sessionsService({
    users: repos.users,
    refresh,
    accessTokenTtlSeconds: config.accessTokenTtl,
    broadcast: cluster && ((change) => cluster.publishSessionChange(change)),
  })
  cluster?.onControl((message) => {
    if (message.type === 'session') sessions.applyRemote(message.change)
  })
  if (cluster)
    cluster.onResubscribed = () =>
      void sessions.resync().catch((error) => log.error('session view resync failed', { error: String(error) }))
  const auth = authService({
    users: repos.users,
    access,
    refresh,
    sessions,
    accountFailures: failures('login-account', config.loginRateLimit.max),
    addressFailures: failures('login-address', config.loginRateLimit.max * 10),
    registrations: cluster
      ? cluster.rateLimiter('register', registerMax, registerWindow)
      : memoryRateLimiter(registerMax, registerWindow),
    allowSignup: config.allowSignup,
    audit,
  })
  // Every account action that ends or changes a user's sessions goes through this one module.
  const sessionControls = sessionControl({ refresh, sessions })
  const quota = databaseQuota({ usage: repos.usage, users: repos.users, defaults: config.quota })
  const notes = notesService(repos.notes)
  const datasets = datasetsService(repos.datasets)
  const documents = documentsService(repos.documents, {
    maxBytes: config.documentMaxBytes,
    // A PDF may yield as many characters as a text upload may hold bytes: a small file that
    // inflates past that is a bomb, or more text than retrieval over one document serves well.
    pdfLimits: {
      timeoutMs: config.pdfReadTimeoutMs,
      maxChars: config.documentMaxBytes,
      maxMemoryBytes: config.pdfReadMemoryBytes,
    },
  })
  const tools = createToolDispatcher(builtinTools({ notes, datasets, messages: repos.messages, documents }), {
    timeoutMs: config.toolTimeoutMs,
  })
  // A revoked key stops the requests streaming with it on every process.
  const apiKeys = apiKeysService(repos.apiKeys, {
    audit: recordApiAudit,
    broadcastRevoked: cluster && ((keyId) => cluster.publishKeyRevoked(keyId)),
  })
  cluster?.onControl((message) => {
    if (message.type === 'key_revoked') apiKeys.revokedElsewhere(message.keyId)
  })
  const shares = sharesService({
    shares: repos.shares,
    threads: repos.threads,
    messages: repos.messages,
    audit: (event) => audit.record(event),
  })
  return {
    config,
    database: db,
    cluster,
    notes,
    datasets,
    documents,
    tools,
    repos,
    access,
    sessions,
    auth,
    oidc: config.oidc
      ? oidcService({ config: config.oidc, users: repos.users, auth, allowSignup: config.allowSignup })
      : undefined,
    threads: threadsService(repos.threads, repos.messages),
    audit,
    quota,
    usage: usageService({ usage: repos.usage, quota }),
    admin: adminService({ users: repos.users, auth, sessions: sessionControls, audit }),
    account: accountService({
      account: repos.account,
      users: repos.users,
      auth,
      sessions: sessionControls,
      audit,
      sections: {
        documents: () => repos.documents.texts(),
        shares: (origin) => shares.exportAll(origin),
        apiKeys: () => allApiKeys(repos.apiKeys),
      },
    }),
    apiKeys,
    search: searchService(repos.search, cursorSeal(config.jwtSecret, 'search')),
    shares,
  }
}

/** The live side: model provider, event bus, connections and runs (built on the services). */
export function createRuntime(services: Services) {
  const { config, repos } = services
  const metrics = createMetrics()
  // The admin status page samples the same registry /metrics exports.
  const status = statusBoard(metrics.registry)
  const alerts = createAlerts(config, {
    onAlert: (alert, outcome) => {
      metrics.alertRaised(alert, outcome)
      status.alertRaised(alert, outcome)
    },
    onIsolationGuard: () => metrics.isolationGuardTripped(),
  })
  /** For the circuit breaker's `onStateChange(host, from, to)`: metrics and the circuit_open alert. */
  const onCircuitStateChange = (host: string, from: string, to: string) => {
    metrics.circuitChanged(host, from, to)
    alerts.circuitStateChanged(host, from, to)
  }
  services.database.writes.onWrite = (ms) => metrics.dbWriteFinished(ms)
  const llm = createOllamaProvider(config.ollamaHosts, {
    slots: config.llm.slots,
    maxQueuedPerUser: config.llm.queuePerUser,
    maxQueued: config.llm.queueMax,
    breakerFailures: config.llm.breakerFailures,
    breakerCooldownMs: config.llm.breakerCooldownMs,
    // Circuit changes reach metrics and alerts through llm.onCircuitChange below.
  })
  const cluster = services.cluster
  const bus = cluster ? cluster.bus() : new LocalBus()
  const registry = new ConnectionRegistry()
  // Documents embed through the provider (fair queue, breaker) and report to the owner's sockets,
  // on this process and (cluster mode) on the others.
  const toUser = (userId: string, frame: ServerFrame) => {
    for (const connection of registry.connectionsOf(userId)) connection.sendFrame(frame)
  }
  services.documents.attach({
    embedder: providerEmbedder(llm, config.ollamaEmbedModel),
    notify: (userId, document) => {
      const frame: ServerFrame = { type: 'document_status', document }
      toUser(userId, frame)
      if (cluster) void cluster.sendUserFrame(userId, frame)
    },
  })
  bus.subscribe((userId, entry) => {
    registry.deliver(userId, entry)
    if (registry.connectionsOf(userId).size > 0) metrics.eventDelivered(entry)
  })
  const runs = new RunManager({
    runs: repos.runs,
    journalStore: repos.journal,
    threads: repos.threads,
    messages: repos.messages,
    publisher: bus,
    // Stored batches of events reach each socket in one corked write.
    deliverBatch: (deliverAll) => registry.deliverBatch(deliverAll),
    runner: {
      llm,
      tools: services.tools,
      maxSteps: config.maxAgentSteps,
      checkCitations: services.documents.checkCitations,
    },
    limiter: cluster ? cluster.runLimiter() : memoryRunLimiter(),
    quota: services.quota,
    nodeId: config.nodeId,
    remoteCancel: cluster && ((runId) => cluster.sendCancel(runId)),
    defaultModel: config.ollamaModel,
    maxRunsPerUser: config.maxRunsPerUser,
    runTimeoutMs: config.runTimeoutMs,
    journalGraceMs: config.journalGraceMs,
    maxResumeAttempts: config.runResumeMaxAttempts,
    onRunResumed: () => metrics.runResumed(),
    onRunFinished: (outcome, run) => {
      metrics.runFinished(outcome, run)
      alerts.runFinished(outcome)
    },
  })
  // Deleting a thread or an account first stops its runs still going (RunManager.stopRuns).
  services.threads.attach({ stopRuns: (threadId) => runs.stopRuns(threadId) })
  services.account.attach({ stopRuns: () => runs.stopRuns() })
  if (cluster) cluster.onStateChange = (state) => void (state === 'down' && alerts.redisDown())
  cluster?.onControl((message) => {
    if (message.type === 'cancel') runs.abort(message.runId, new RunStop('cancelled'))
    else if (message.type === 'user_frame' && message.from !== config.nodeId) toUser(message.userId, message.frame)
  })
  metrics.observe({ connections: registry, runs, database: services.database, llm })
  alerts.watchPersister(runs.persister)
  alerts.watchIsolationGuard()
  llm.onCircuitChange(onCircuitStateChange)
  return { llm, bus, registry, runs, metrics, alerts, onCircuitStateChange, status }
}

export type Runtime = ReturnType<typeof createRuntime>

export type Services = Awaited<ReturnType<typeof createServices>>

/**
 * What /ready reports besides the database: whether Ollama (and Redis in cluster mode) answer;
 * for admins also Ollama's hosts, circuits and queue and the cluster node id.
 */
function readinessProbes(services: Services, runtime: Runtime): ReadinessProbe[] {
  const ollama: ReadinessProbe = async () => {
    const status = await runtime.llm.status()
    return {
      summary: { ollama: status.reachable ? 'reachable' : 'unreachable' },
      detail: { ollamaHosts: status.hosts, ollamaQueue: status.queue },
    }
  }
  const cluster = services.cluster
  const redis: ReadinessProbe = async () => ({
    summary: { redis: cluster && (await cluster.ping()) ? 'ok' : 'unreachable' },
    detail: { nodeId: services.config.nodeId },
  })
  return cluster ? [ollama, redis] : [ollama]
}

/**
 * Whether a request comes from an admin (for /ready's detail): a valid access token whose session
 * is still live and whose user is an admin now — the token's own role claim may be out of date.
 */
function isAdminRequest(services: Services) {
  return async (request: Request) => {
    const token = bearerToken(request.headers.get('authorization'))
    if (!token) return false
    const claims = await services.access.verify(token).catch(() => undefined)
    if (!claims) return false
    const session = await services.sessions.require(claims).catch(() => undefined)
    return session?.role === 'admin'
  }
}

/**
 * Request body limits: 8 MiB for every route unless it is listed here with its own, e.g.
 * `{ method: 'POST', path: '/api/import', maxBytes: config.importMaxBytes }`.
 */
export function bodyLimits(config: Config): BodyLimitOptions {
  return {
    defaultBytes: DEFAULT_BODY_LIMIT,
    routes: [
      { method: 'POST', path: '/api/threads/import', maxBytes: config.importMaxBytes },
      { method: 'POST', path: '/api/documents', maxBytes: documentBodyLimit(config.documentMaxBytes) },
    ],
  }
}

/** Composes the feature plugins into one app. */
export function createApp(services: Services, runtime: Runtime) {
  const guard = authGuard(services.access, services.sessions)
  // Whose X-Forwarded-For is believed: rate limits and every audit event's `ip` (PROTOCOL.md §10).
  const trust = compileTrustedProxies(services.config.trustedProxies)
  const keyGuard = apiKeyGuard(services.apiKeys)
  const catalog = modelCatalog(runtime.llm, services.config.ollamaModel)
  return new Elysia({
    name: 'chat-server',
    websocket: { maxPayloadLength: MAX_FRAME_BYTES, idleTimeout: 120, sendPings: true },
  })
    .use(securityHeaders())
    .use(errorHandler)
    .use(bodyLimit(bodyLimits(services.config)))
    .use(healthRoutes(services.database, readinessProbes(services, runtime), { showsDetail: isAdminRequest(services) }))
    .use(metricsRoutes(runtime.metrics))
    .use(
      wsRoutes({
        access: services.access,
        sessions: services.sessions,
        runs: runtime.runs,
        registry: runtime.registry,
        maxBufferedBytes: services.config.wsMaxBufferedBytes,
        replayStallMs: services.config.wsReplayStallMs,
        inbound: { maxFrames: services.config.wsMaxQueuedFrames, maxBytes: services.config.wsMaxQueuedBytes },
        onConnectionsChanged: () => runtime.metrics.connectionsChanged(),
      }),
    )
    .use(runRoutes(runtime.runs, services.repos.runs, guard))
    .use(modelRoutes(runtime.llm, services.config.ollamaModel, guard))
    .use(authRoutes(services.auth, guard, trust))
    .use(oidcRoutes(services.oidc, guard))
    .use(threadRoutes(services.threads, guard, { importMaxBytes: services.config.importMaxBytes }))
    .use(searchRoutes(services.search, guard))
    .use(shareRoutes(services.shares, guard))
    .use(setupRoutes(services.repos.users))
    .use(noteRoutes(services.notes, guard))
    .use(datasetRoutes(services.datasets, guard))
    .use(documentRoutes(services.documents, guard, services.config.documentMaxBytes))
    .use(agentRoutes(guard))
    .use(usageRoutes(services.usage, guard))
    .use(accountRoutes(services.account, guard, services.access, trust))
    .use(
      adminRoutes({
        admin: services.admin,
        usage: services.usage,
        audit: services.audit,
        status: runtime.status,
        guard: adminGuard(guard, services.repos.users),
        trust,
      }),
    )
    .use(apiKeyRoutes(services.apiKeys, guard))
    .use(openaiRoutes({ runs: runtime.runs, bus: runtime.bus, catalog, keys: services.apiKeys }, keyGuard))
    .use(
      mcpRoutes(services.tools, keyGuard, (event) => void services.audit.record(event), {
        // A tool call ends within its own timeout; the body as a whole is given some room beyond.
        answerWithinMs: services.config.toolTimeoutMs * 4,
      }),
    )
    .use(webRoutes({ sourceMaps: services.config.webSourceMaps, shareExists: (id) => services.shares.exists(id) }))
}

export interface RunningServer {
  url: string
  port: number
  services: Services
  runtime: Runtime
  app: ReturnType<typeof createApp>
  /** Stops accepting, lets in-flight work finish or cuts it, closes the database. */
  stop(): Promise<void>
}

export async function startServer(config: Config): Promise<RunningServer> {
  log.setLevel(config.logLevel)
  const services = await createServices(config)
  const runtime = createRuntime(services)
  let stopSweeper = () => {}
  if (services.cluster) {
    // Other processes may be running their runs: only a dead process's runs are closed.
    await services.cluster.start()
    // After subscribing, so no revocation falls between the load and the first broadcast.
    await services.sessions.start()
    stopSweeper = startLivenessSweeper(services.cluster, runtime.runs, services.repos.journal)
  } else {
    await services.sessions.start()
    // Runs a crash or kill -9 left going continue here (PROTOCOL.md §9), before we listen.
    const { resumed, failed } = await runtime.runs.resumeInterrupted()
    if (resumed > 0) log.warn('resumed runs interrupted by the last stop', { count: resumed })
    if (failed > 0) log.warn('closed runs interrupted by the last stop', { count: failed })
    const documentsFailed = await services.documents.failInterrupted()
    if (documentsFailed > 0)
      log.warn('failed documents whose ingestion the last stop cut short', { count: documentsFailed })
  }
  const app = createApp(services, runtime)
  // Bodies are limited per route as they stream (src/http/body-limit.ts), with the error envelope;
  // Bun's own cap would answer an empty 413 first, so it is out of the way.
  app.listen({ hostname: config.host, port: config.port, maxRequestBodySize: Number.MAX_SAFE_INTEGER })
  const port = app.server!.port!
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  let stopping: Promise<void> | undefined
  return {
    url,
    port,
    services,
    runtime,
    app,
    stop() {
      stopping ??= (async () => {
        stopSweeper()
        services.documents.close()
        await runtime.runs.shutdown(config.shutdownGraceMs)
        for (const connection of runtime.registry.all()) connection.close(CLOSE_CODES.goingAway, 'server shutting down')
        await app.stop(true)
        await runtime.bus.close()
        runtime.llm.close()
        runtime.alerts.close()
        runtime.status.close()
        services.sessions.close()
        services.database.close()
      })()
      return stopping
    },
  }
}

/** Every live API key of the active user (no secrets), for the account export. */
async function allApiKeys(repo: ReturnType<typeof apiKeysRepository>) {
  const keys = []
  for (let page = await repo.list(200); ; page = await repo.list(200, page.next)) {
    keys.push(...page.keys)
    if (!page.next) return keys
  }
}

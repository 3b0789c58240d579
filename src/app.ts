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
import { authService } from './auth/service'
import { authGuard } from './auth/guard'
import { sessionsService } from './auth/sessions/service'
import { authRoutes } from './auth'
import { oidcService } from './auth/oidc/service'
import { oidcRoutes } from './auth/oidc'
import { threadsService } from './threads/service'
import { threadRoutes } from './threads'
import { healthRoutes, type ReadinessProbe } from './health'
import { errorHandler, MAX_BODY_BYTES } from './http/errors'
import { log } from './log'
import { createOllamaProvider, modelRoutes } from './llm'
import { LocalBus } from './runs/bus'
import { RunManager, memoryRunLimiter } from './runs/service'
import { runRoutes } from './runs'
import { ConnectionRegistry } from './ws/registry'
import { wsRoutes } from './ws'
import { RedisCluster } from './cluster/redis'
import { startLivenessSweeper } from './cluster/liveness'
import { RunStop } from './agents/runner'
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
import { createMetrics, metricsRoutes, watchCircuitChanges } from './metrics'
import { createAlerts } from './alerts'

/** Everything the features share, built once from the config. */
export async function createServices(config: Config, database?: Database) {
  const db = database ?? (await openDatabase(config.databaseUrl, config.databaseAuthToken))
  const repos = {
    users: usersRepository(db),
    threads: threadsRepository(db),
    messages: messagesRepository(db),
    runs: runsRepository(db),
    journal: runJournalStore(db),
    notes: notesRepository(db),
    datasets: datasetsRepository(db),
  }
  // Cluster mode: events, cancels, run caps, login limits and liveness go through Redis.
  const cluster = config.redisUrl ? new RedisCluster(config.redisUrl, config.nodeId) : undefined
  // Abuse limits (PROTOCOL.md §5): failures only, with back-off; shared through Redis in cluster mode.
  const failures = (prefix: string, free: number) =>
    cluster ? cluster.failureLimiter(prefix, free, config.loginRateLimit.windowSeconds) : memoryFailureLimiter(free, config.loginRateLimit.windowSeconds)
  const { max: registerMax, windowSeconds: registerWindow } = config.registerRateLimit
  const access = accessTokens({ secret: config.jwtSecret, issuer: config.jwtIssuer, audience: config.jwtAudience, ttlSeconds: config.accessTokenTtl })
  const refresh = refreshTokenStore(db, config.refreshTokenTtl)
  // Sessions end at once: one revocation view per process, kept in step through Redis in cluster mode.
  const sessions = sessionsService({ users: repos.users, refresh, accessTokenTtlSeconds: config.accessTokenTtl, broadcast: cluster && ((change) => cluster.publishSessionChange(change)) })
  cluster?.onControl((message) => {
    if (message.type === 'session') sessions.applyRemote(message.change)
  })
  if (cluster) cluster.onResubscribed = () => void sessions.resync().catch((error) => log.error('session view resync failed', { error: String(error) }))
  const auth = authService({
    users: repos.users,
    access,
    refresh,
    sessions,
    accountFailures: failures('login-account', config.loginRateLimit.max),
    addressFailures: failures('login-address', config.loginRateLimit.max * 10),
    registrations: cluster ? cluster.rateLimiter('register', registerMax, registerWindow) : memoryRateLimiter(registerMax, registerWindow),
    allowSignup: config.allowSignup,
  })
  const notes = notesService(repos.notes)
  const datasets = datasetsService(repos.datasets)
  const tools = createToolDispatcher(builtinTools({ notes, datasets, messages: repos.messages }), { timeoutMs: config.toolTimeoutMs })
  return {
    config,
    database: db,
    cluster,
    notes,
    datasets,
    tools,
    repos,
    access,
    sessions,
    auth,
    oidc: config.oidc ? oidcService({ config: config.oidc, users: repos.users, auth, allowSignup: config.allowSignup }) : undefined,
    threads: threadsService(repos.threads, repos.messages),
  }
}

/** The live side: model provider, event bus, connections and runs (built on the services). */
export function createRuntime(services: Services) {
  const { config, repos } = services
  const metrics = createMetrics()
  const alerts = createAlerts(config, { onAlert: (alert, outcome) => metrics.alertRaised(alert, outcome), onIsolationGuard: () => metrics.isolationGuardTripped() })
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
    // Circuit changes reach metrics and alerts through watchCircuitChanges(llm.breakers) below.
  })
  const cluster = services.cluster
  const bus = cluster ? cluster.bus() : new LocalBus()
  const registry = new ConnectionRegistry()
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
    runner: { llm, tools: services.tools, maxSteps: config.maxAgentSteps },
    limiter: cluster ? cluster.runLimiter() : memoryRunLimiter(),
    nodeId: config.nodeId,
    remoteCancel: cluster && ((runId) => cluster.sendCancel(runId)),
    defaultModel: config.ollamaModel,
    maxRunsPerUser: config.maxRunsPerUser,
    runTimeoutMs: config.runTimeoutMs,
    journalGraceMs: config.journalGraceMs,
    onRunFinished: (outcome, run) => {
      metrics.runFinished(outcome, run)
      alerts.runFinished(outcome)
    },
  })
  if (cluster) cluster.onStateChange = (state) => void (state === 'down' && alerts.redisDown())
  cluster?.onControl((message) => {
    if (message.type === 'cancel') runs.abort(message.runId, new RunStop('cancelled'))
  })
  metrics.observe({ connections: registry, runs, database: services.database, llm })
  alerts.watchPersister(runs.persister)
  alerts.watchIsolationGuard()
  // Subscribes when the provider exposes its breakers (llm.breakers / llm.onStateChange); a
  // provider that takes a callback instead should be given `onCircuitStateChange` — not both.
  watchCircuitChanges(llm, onCircuitStateChange)
  return { llm, bus, registry, runs, metrics, alerts, onCircuitStateChange }
}

export type Runtime = ReturnType<typeof createRuntime>

export type Services = Awaited<ReturnType<typeof createServices>>

/** What /ready reports besides the database: Ollama (hosts, circuits, queue) and Redis in cluster mode. */
function readinessProbes(services: Services, runtime: Runtime): ReadinessProbe[] {
  const ollama: ReadinessProbe = async () => {
    const status = await runtime.llm.status()
    return { ollama: status.reachable ? 'reachable' : 'unreachable', ollamaHosts: status.hosts, ollamaQueue: status.queue }
  }
  const cluster = services.cluster
  const redis: ReadinessProbe = async () => ({ redis: cluster && (await cluster.ping()) ? 'ok' : 'unreachable', nodeId: services.config.nodeId })
  return cluster ? [ollama, redis] : [ollama]
}

/** Composes the feature plugins into one app. */
export function createApp(services: Services, runtime: Runtime) {
  const guard = authGuard(services.access, services.sessions)
  return new Elysia({ name: 'chat-server', websocket: { maxPayloadLength: 1024 * 1024, idleTimeout: 120, sendPings: true } })
    .use(errorHandler)
    .use(healthRoutes(services.database, readinessProbes(services, runtime)))
    .use(metricsRoutes(runtime.metrics))
    .use(wsRoutes({ access: services.access, sessions: services.sessions, runs: runtime.runs, registry: runtime.registry, maxBufferedBytes: services.config.wsMaxBufferedBytes, onConnectionsChanged: () => runtime.metrics.connectionsChanged() }))
    .use(runRoutes(runtime.runs, services.repos.runs, guard))
    .use(modelRoutes(runtime.llm, services.config.ollamaModel, guard))
    .use(authRoutes(services.auth, guard, compileTrustedProxies(services.config.trustedProxies)))
    .use(oidcRoutes(services.oidc, guard))
    .use(threadRoutes(services.threads, guard))
    .use(noteRoutes(services.notes, guard))
    .use(datasetRoutes(services.datasets, guard))
    .use(agentRoutes(guard))
    .use(webRoutes())
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
    const recovered = await runtime.runs.recoverInterrupted()
    if (recovered > 0) log.warn('closed runs interrupted by the last stop', { count: recovered })
  }
  const app = createApp(services, runtime)
  app.listen({ hostname: config.host, port: config.port, maxRequestBodySize: 4 * MAX_BODY_BYTES })
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
        await runtime.runs.shutdown(config.shutdownGraceMs)
        for (const connection of runtime.registry.all()) connection.close(1001, 'server shutting down')
        await app.stop(true)
        await runtime.bus.close()
        runtime.llm.close()
        runtime.alerts.close()
        services.sessions.close()
        services.database.close()
      })()
      return stopping
    },
  }
}

import { Elysia } from 'elysia'
import type { Config } from './config'
import { openDatabase, type Database } from './db/client'
import { threadsRepository } from './db/repositories/threads'
import { messagesRepository } from './db/repositories/messages'
import { runsRepository, runJournalStore } from './db/repositories/runs'
import { usersRepository } from './db/repositories/users'
import { accessTokens } from './auth/tokens'
import { refreshTokenStore } from './auth/refresh-tokens'
import { memoryRateLimiter } from './auth/rate-limit'
import { authService } from './auth/service'
import { authGuard } from './auth/guard'
import { authRoutes } from './auth'
import { threadsService } from './threads/service'
import { threadRoutes } from './threads'
import { healthRoutes } from './health'
import { errorHandler } from './http/errors'
import { log } from './log'

/** Everything the features share, built once from the config. */
export async function createServices(config: Config, database?: Database) {
  const db = database ?? (await openDatabase(config.databaseUrl, config.databaseAuthToken))
  const repos = {
    users: usersRepository(db),
    threads: threadsRepository(db),
    messages: messagesRepository(db),
    runs: runsRepository(db),
    journal: runJournalStore(db),
  }
  const access = accessTokens({ secret: config.jwtSecret, issuer: config.jwtIssuer, audience: config.jwtAudience, ttlSeconds: config.accessTokenTtl })
  const auth = authService({
    users: repos.users,
    access,
    refresh: refreshTokenStore(db, config.refreshTokenTtl),
    loginLimiter: memoryRateLimiter(config.loginRateLimit.max, config.loginRateLimit.windowSeconds),
    ipLimiter: memoryRateLimiter(config.loginRateLimit.max * 4, config.loginRateLimit.windowSeconds),
    allowSignup: config.allowSignup,
  })
  return {
    config,
    database: db,
    repos,
    access,
    auth,
    threads: threadsService(repos.threads, repos.messages),
  }
}

export type Services = Awaited<ReturnType<typeof createServices>>

/** Composes the feature plugins into one app. */
export function createApp(services: Services) {
  const guard = authGuard(services.access)
  return new Elysia({ name: 'chat-server' })
    .use(errorHandler)
    .use(healthRoutes(services.database))
    .use(authRoutes(services.auth, guard))
    .use(threadRoutes(services.threads, guard))
}

export interface RunningServer {
  url: string
  port: number
  services: Services
  app: ReturnType<typeof createApp>
  /** Stops accepting, lets in-flight work finish or cuts it, closes the database. */
  stop(): Promise<void>
}

export async function startServer(config: Config): Promise<RunningServer> {
  log.setLevel(config.logLevel)
  const services = await createServices(config)
  const app = createApp(services)
  app.listen({ hostname: config.host, port: config.port, maxRequestBodySize: 8 * 1024 * 1024 })
  const port = app.server!.port!
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  let stopping: Promise<void> | undefined
  return {
    url,
    port,
    services,
    app,
    stop() {
      stopping ??= (async () => {
        await app.stop(false)
        services.database.close()
      })()
      return stopping
    },
  }
}

import { ConfigError, loadConfig, readDotEnv } from './config'
import { startServer } from './app'
import { log } from './log'
import { DatabaseTooNewError, MigrationError } from './db/migrations'

readDotEnv()
let config
try {
  config = loadConfig()
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message)
    process.exit(2)
  }
  throw error
}

let server: Awaited<ReturnType<typeof startServer>> | undefined
// SIGHUP reloads nothing: every setting is read once at start (changing the database, secrets
// or listen address under live runs is not safe). It only logs what the process is doing, so
// `kill -HUP` (or `systemctl reload`) is harmless instead of killing the process.
// Registered before start-up so a SIGHUP during migrations or resuming cannot stop it either.
process.on('SIGHUP', () => {
  log.info('SIGHUP received: nothing reloaded (configuration is read at start; restart to change it)', {
    ...(server
      ? {
          runsActive: server.runtime.runs.active.size,
          connections: server.runtime.registry.all().length,
          url: server.url,
        }
      : { starting: true }),
  })
})

// Registered before start-up, so a stop asked for while starting (migrations, resuming runs)
// is honoured as soon as the server is up, instead of killing it mid-way.
let signals = 0
let stopRequested = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    if (++signals > 1) process.exit(1) // a second signal means "now"
    log.info('shutting down', { signal })
    stopRequested = true
    if (!server) return // still starting: stopped right after start-up, below
    await server.stop()
    process.exit(0)
  })
}

try {
  server = await startServer(config)
} catch (error) {
  // A database of a newer version, or a migration that failed (and was rolled back): say so
  // plainly and stop, with the file untouched.
  if (error instanceof DatabaseTooNewError || error instanceof MigrationError) {
    log.error(`refusing to start: ${error.message}`)
    console.error(`refusing to start: ${error.message}`)
    process.exit(3)
  }
  throw error
}
log.info(`chat server listening on ${server.url}`, {
  url: server.url,
  database: config.databaseUrl.replace(/\/\/.*@/, '//***@'),
  ollama: config.ollamaHosts,
})
if (stopRequested) {
  await server.stop()
  process.exit(0)
}

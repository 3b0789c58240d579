import { ConfigError, loadConfig, readDotEnv } from './config'
import { startServer } from './app'
import { log } from './log'

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

const server = await startServer(config)
log.info(`chat server listening on ${server.url}`, { url: server.url, database: config.databaseUrl.replace(/\/\/.*@/, '//***@'), ollama: config.ollamaHosts })

let signals = 0
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    if (++signals > 1) process.exit(1) // a second signal means "now"
    log.info('shutting down', { signal })
    await server.stop()
    process.exit(0)
  })
}

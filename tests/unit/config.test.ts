/**
 * Configuration (src/config.ts) against PROTOCOL.md §1: defaults, validation that names the
 * variable, and the JWT secret generated once and kept in the data folder.
 */
import { test, expect, describe, afterAll } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Config, ConfigError, loadConfig, readDotEnv } from '../../src/config'

const SECRET = 'a-test-secret-of-more-than-32-bytes-0123456789'
const dirs: string[] = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-config-test-'))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** The ConfigError thrown by `loadConfig(env)` (fails the test if none is thrown). */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ JWT_SECRET: SECRET, ...env })
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return error as ConfigError
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`)
}

const MB = 1024 * 1024
const NO_QUOTA = { runsPerDay: 0, tokensPerDay: 0 }

/**
 * Each variable of PROTOCOL.md §1 and the setting it fills: the setting's value when the
 * variable is unset, and a set value with what it becomes.
 */
type Setting = Config[keyof Config]
const SETTINGS: [variable: string, setting: keyof Config, unset: Setting, set: string, becomes: Setting][] = [
  ['HOST', 'host', '127.0.0.1', '0.0.0.0', '0.0.0.0'],
  ['PORT', 'port', 3000, '0', 0],
  ['DATABASE_URL', 'databaseUrl', 'file:./data/chat.db', 'libsql://db.example.test', 'libsql://db.example.test'],
  ['DATABASE_AUTH_TOKEN', 'databaseAuthToken', undefined, 'tok', 'tok'],
  ['DATA_DIR', 'dataDir', './data', '/var/lib/chat', '/var/lib/chat'],
  [
    'OLLAMA_HOST',
    'ollamaHosts',
    ['http://127.0.0.1:11434'],
    'http://gpu1:11434, gpu2:11434/',
    ['http://gpu1:11434', 'http://gpu2:11434'],
  ],
  ['OLLAMA_MODEL', 'ollamaModel', 'llama3.2', 'qwen3', 'qwen3'],
  ['ACCESS_TOKEN_TTL', 'accessTokenTtl', 900, '60', 60],
  ['REFRESH_TOKEN_TTL', 'refreshTokenTtl', 2_592_000, '3600', 3600],
  ['ALLOW_SIGNUP', 'allowSignup', true, 'false', false],
  ['LOG_LEVEL', 'logLevel', 'info', 'debug', 'debug'],
  ['MAX_RUNS_PER_USER', 'maxRunsPerUser', 4, '2', 2],
  ['REDIS_URL', 'redisUrl', undefined, 'redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
  ['RUN_RESUME_MAX_ATTEMPTS', 'runResumeMaxAttempts', 2, '0', 0],
  ['OLLAMA_EMBED_MODEL', 'ollamaEmbedModel', 'nomic-embed-text', 'mxbai-embed-large', 'mxbai-embed-large'],
  ['DOCUMENT_MAX_BYTES', 'documentMaxBytes', 20_971_520, '1048576', 1_048_576],
  ['DOCUMENT_VECTOR_CACHE_MB', 'documentVectorCacheBytes', 256 * MB, '0', 0],
  ['PDF_READ_TIMEOUT_MS', 'pdfReadTimeoutMs', 60_000, '5000', 5000],
  ['PDF_READ_MEMORY_MB', 'pdfReadMemoryBytes', 1024 * MB, '256', 256 * MB],
  ['SQLITE_MMAP_MB', 'sqliteMmapBytes', 0, '256', 256 * MB],
  // QUOTA_* default to 0 (no limit) and take whole numbers.
  ['QUOTA_RUNS_PER_DAY', 'quota', NO_QUOTA, '50', { ...NO_QUOTA, runsPerDay: 50 }],
  ['QUOTA_TOKENS_PER_DAY', 'quota', NO_QUOTA, '200000', { ...NO_QUOTA, tokensPerDay: 200_000 }],
]

describe('settings (PROTOCOL.md §1)', () => {
  // JWT_SECRET is given so these tests write nothing to ./data; its default is tested below.
  test.each(SETTINGS)('%s sets %s: its default, or the value given', (variable, setting, unset, set, becomes) => {
    expect(loadConfig({ JWT_SECRET: SECRET })[setting]).toEqual(unset)
    expect(loadConfig({ JWT_SECRET: SECRET, [variable]: set })[setting]).toEqual(becomes)
  })

  test(':memory: and a file URL are accepted; the data folder follows the database file', () => {
    expect(loadConfig({ JWT_SECRET: SECRET, DATABASE_URL: ':memory:' }).databaseUrl).toBe(':memory:')
    expect(loadConfig({ JWT_SECRET: SECRET, DATABASE_URL: 'file:/srv/chat/db/chat.db' }).dataDir).toBe('/srv/chat/db')
  })

  test('OIDC is on only when all four variables are set', () => {
    expect(loadConfig({ JWT_SECRET: SECRET }).oidc).toBeUndefined()
    const config = loadConfig({
      JWT_SECRET: SECRET,
      OIDC_ISSUER: 'https://id.example.test',
      OIDC_CLIENT_ID: 'chat',
      OIDC_CLIENT_SECRET: 'shh',
      OIDC_REDIRECT_URI: 'http://127.0.0.1:3000/api/auth/oidc/callback',
    })
    expect(config.oidc).toMatchObject({ issuer: 'https://id.example.test', clientId: 'chat', clientSecret: 'shh' })
  })
})

describe('a bad value throws ConfigError naming the variable', () => {
  const cases: [string, Record<string, string>][] = [
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '-1' }],
    ['JWT_SECRET', { JWT_SECRET: 'too-short' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['MAX_RUNS_PER_USER', { MAX_RUNS_PER_USER: '0' }],
    ['PDF_READ_TIMEOUT_MS', { PDF_READ_TIMEOUT_MS: '0' }],
    ['PDF_READ_TIMEOUT_MS', { PDF_READ_TIMEOUT_MS: '1.5s' }],
    ['PDF_READ_MEMORY_MB', { PDF_READ_MEMORY_MB: '0' }],
    ['MAX_RUNS_PER_USER', { MAX_RUNS_PER_USER: '2.5' }],
    ['RUN_RESUME_MAX_ATTEMPTS', { RUN_RESUME_MAX_ATTEMPTS: '-1' }],
    ['RUN_RESUME_MAX_ATTEMPTS', { RUN_RESUME_MAX_ATTEMPTS: 'twice' }],
    ['ACCESS_TOKEN_TTL', { ACCESS_TOKEN_TTL: 'soon' }],
    ['ALLOW_SIGNUP', { ALLOW_SIGNUP: 'maybe' }],
    ['DATABASE_URL', { DATABASE_URL: 'postgres://db/chat' }],
    ['OLLAMA_HOST', { OLLAMA_HOST: 'ftp://ollama' }],
    ['REDIS_URL', { REDIS_URL: 'http://redis' }],
    ['QUOTA_RUNS_PER_DAY', { QUOTA_RUNS_PER_DAY: '-1' }],
    ['QUOTA_TOKENS_PER_DAY', { QUOTA_TOKENS_PER_DAY: 'lots' }],
    ['DOCUMENT_MAX_BYTES', { DOCUMENT_MAX_BYTES: '20MB' }],
    ['DOCUMENT_MAX_BYTES', { DOCUMENT_MAX_BYTES: '10' }],
    ['DOCUMENT_VECTOR_CACHE_MB', { DOCUMENT_VECTOR_CACHE_MB: '-1' }],
    ['SQLITE_MMAP_MB', { SQLITE_MMAP_MB: 'lots' }],
  ]
  for (const [variable, env] of cases) {
    test(`${variable}=${Object.values(env)[0]}`, () => {
      const error = configError(env)
      expect(error.variable).toBe(variable)
      expect(error.message).toContain(variable)
    })
  }

  test('OIDC half set names a missing variable', () => {
    const error = configError({ OIDC_ISSUER: 'https://id.example.test', OIDC_CLIENT_ID: 'chat' })
    expect(['OIDC_CLIENT_SECRET', 'OIDC_REDIRECT_URI']).toContain(error.variable)
    expect(error.message).toContain(error.variable)
    expect(error.message).toContain('OIDC_ISSUER')
  })
})

describe('JWT secret', () => {
  test('is generated once, kept in the data folder (private) and reused', () => {
    const dir = tempDir()
    const env = { DATA_DIR: dir, DATABASE_URL: `file:${join(dir, 'chat.db')}` }
    const first = loadConfig(env)
    const file = join(dir, 'jwt-secret')
    expect(existsSync(file)).toBe(true)
    expect(Buffer.byteLength(first.jwtSecret)).toBeGreaterThanOrEqual(32)
    expect(readFileSync(file, 'utf8').trim()).toBe(first.jwtSecret)
    expect(statSync(file).mode & 0o077).toBe(0)

    const second = loadConfig(env)
    expect(second.jwtSecret).toBe(first.jwtSecret)

    // Another data folder gets another secret.
    const other = tempDir()
    expect(loadConfig({ DATA_DIR: other }).jwtSecret).not.toBe(first.jwtSecret)
  })

  test('without DATA_DIR it lives beside the database file', () => {
    const dir = tempDir()
    const config = loadConfig({ DATABASE_URL: `file:${join(dir, 'sub', 'chat.db')}` })
    expect(config.dataDir).toBe(join(dir, 'sub'))
    expect(readFileSync(join(dir, 'sub', 'jwt-secret'), 'utf8').trim()).toBe(config.jwtSecret)
  })

  test('a set JWT_SECRET wins and nothing is written', () => {
    const dir = tempDir()
    expect(loadConfig({ DATA_DIR: dir, JWT_SECRET: SECRET }).jwtSecret).toBe(SECRET)
    expect(existsSync(join(dir, 'jwt-secret'))).toBe(false)
  })
})

describe('.env', () => {
  test('fills unset variables and never overrides set ones', () => {
    const dir = tempDir()
    const path = join(dir, '.env')
    writeFileSync(
      path,
      ['# comment', 'PORT=4000', 'export LOG_LEVEL="warn"', "OLLAMA_MODEL='qwen3'", 'HOST=0.0.0.0', ''].join('\n'),
    )
    const env: Record<string, string | undefined> = { HOST: '127.0.0.2' }
    readDotEnv(path, env)
    expect(env).toEqual({ HOST: '127.0.0.2', PORT: '4000', LOG_LEVEL: 'warn', OLLAMA_MODEL: 'qwen3' })
    readDotEnv(join(dir, 'missing.env'), env) // a missing file is fine
  })
})

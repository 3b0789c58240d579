/**
 * `bun run admin <command>`: account management from the shell, for the admin locked out of
 * the UI (PROTOCOL.md §9). Works on the same database as a running server; every change goes
 * through the same services as the admin API (password rules, last-admin rule, session control,
 * audit with actor "shell"). Exit 0 on success; 1 with a one-line reason otherwise; 2 for usage.
 */
import { parseArgs } from 'node:util'
import { loadConfig, readDotEnv, ConfigError } from '../config'
import { createServices } from '../app'
import { AppError } from '../http/errors'
import { log } from '../log'
import type { Role } from '../context/user-context'

const USAGE = `usage: bun run admin <command> [options]
  create-user    --email E --password P [--name N] [--role admin|member]
  set-role       --email E --role admin|member
  reset-password --email E --password P
  disable        --email E
  enable         --email E
  sign-out       --email E`

const COMMANDS = ['create-user', 'set-role', 'reset-password', 'disable', 'enable', 'sign-out'] as const
type Command = (typeof COMMANDS)[number]

class UsageError extends Error {}
class HelpRequested extends Error {}

function parse(argv: string[]) {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const command = positionals[0] as Command | undefined
  if (values.help) throw new HelpRequested()
  if (!command) throw new UsageError('a command is needed')
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command "${command}"`)
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`)
  if (!values.email) throw new UsageError(`${command} needs --email`)
  if ((command === 'create-user' || command === 'reset-password') && !values.password)
    throw new UsageError(`${command} needs --password`)
  if (command === 'set-role' && !values.role) throw new UsageError('set-role needs --role admin|member')
  if (values.role !== undefined && values.role !== 'admin' && values.role !== 'member')
    throw new UsageError(`--role must be admin or member, got "${values.role}"`)
  return {
    command,
    email: values.email,
    password: values.password,
    name: values.name,
    role: values.role as Role | undefined,
  }
}

/** Runs one command; returns the line to print. Throws AppError / UsageError on failure. */
export async function runAdminCommand(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<string> {
  const args = parse(argv)
  // The shell needs the database only: no cluster, no model.
  const config = { ...loadConfig(env), redisUrl: undefined }
  log.setLevel(env.LOG_LEVEL ? config.logLevel : 'warn')
  const services = await createServices(config)
  const actor = { actorId: null, via: 'cli' as const }
  try {
    const { admin } = services
    if (args.command === 'create-user') {
      const user = await admin.createUser(actor, {
        email: args.email,
        password: args.password!,
        name: args.name,
        role: args.role,
      })
      return `created ${user.email} (${user.role}) id ${user.id}`
    }
    const user = await admin.findByEmail(args.email).catch(() => {
      throw new AppError(404, 'unknown_user', `unknown user ${args.email}`)
    })
    switch (args.command) {
      case 'set-role':
        await admin.updateUser(actor, user.id, { role: args.role })
        return `${user.email} is now ${args.role}`
      case 'reset-password':
        await admin.resetPassword(actor, user.id, args.password!)
        return `password of ${user.email} reset; their sessions were ended`
      case 'disable':
        await admin.updateUser(actor, user.id, { disabled: true })
        return `${user.email} is disabled; their sessions were ended`
      case 'enable':
        await admin.updateUser(actor, user.id, { disabled: false })
        return `${user.email} is enabled`
      case 'sign-out':
        await admin.signOut(actor, user.id)
        return `${user.email} was signed out everywhere`
    }
  } finally {
    services.database.close()
  }
}

if (import.meta.main) {
  readDotEnv()
  try {
    console.log(await runAdminCommand(process.argv.slice(2)))
    process.exit(0)
  } catch (error) {
    if (error instanceof HelpRequested) {
      console.log(USAGE)
      process.exit(0)
    }
    if (error instanceof UsageError || String((error as { code?: string })?.code ?? '').startsWith('ERR_PARSE_ARGS')) {
      console.error(`error: ${(error as Error).message.split('\n')[0]}\n${USAGE}`)
      process.exit(2)
    }
    const message =
      error instanceof AppError
        ? error.code === 'last_admin'
          ? `last admin: ${error.message}`
          : error.code === 'weak_password'
            ? `weak password: ${error.message}`
            : error.message
        : error instanceof ConfigError
          ? error.message
          : `unexpected failure: ${error instanceof Error ? error.message : String(error)}`
    console.error(`error: ${message.split('\n')[0]}`)
    process.exit(1)
  }
}

/** One command of a child process: the IPC message, as sent (`{ id, cmd, ...args }`). */
export type Command = any
export type CommandHandlers = Record<string, (cmd: Command) => unknown>

/**
 * The command loop of a benchmark's child process: each IPC message `{ id, cmd, ...args }` runs
 * `handlers[cmd]`, answered with `{id, ok, result}` or `{id, ok: false, error}`. Every child
 * knows `exit` (runs `onExit`, answers, then exits); the child exits too when its parent goes away.
 */
export function answerCommands(handlers: CommandHandlers, onExit?: () => unknown) {
  const handle = async (cmd: Command): Promise<unknown> => {
    if (cmd.cmd === 'exit') {
      await onExit?.()
      setTimeout(() => process.exit(0), 10)
      return {}
    }
    const handler = handlers[cmd.cmd]
    if (!handler) throw new Error(`unknown command ${cmd.cmd}`)
    return handler(cmd)
  }
  process.on('message', (message: Command) => {
    handle(message).then(
      (result) => process.send!({ id: message.id, ok: true, result }),
      (error) => process.send!({ id: message.id, ok: false, error: String(error?.stack ?? error) }),
    )
  })
  process.on('disconnect', () => process.exit(0))
}

/**
 * The parent's handle on a child process that runs answerCommands: `bun <script> <flag>` with
 * Bun's IPC. A call answers what the child's handler returned, or rejects with its error (or
 * when the child exits first).
 */
export class CommandChild {
  #next = 0
  readonly #pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>()

  private constructor(private readonly proc: ReturnType<typeof Bun.spawn>) {}

  static spawn(script: string, flag: string, name: string): CommandChild {
    let self: CommandChild | undefined
    const proc = Bun.spawn(['bun', script, flag], {
      stdout: 'inherit',
      stderr: 'inherit',
      ipc(message: any) {
        const waiter = self ? self.#pending.get(message.id) : undefined
        if (!waiter) return
        self!.#pending.delete(message.id)
        if (message.ok) waiter.resolve(message.result)
        else waiter.reject(new Error(`${name}: ${message.error}`))
      },
    })
    self = new CommandChild(proc)
    void proc.exited.then((code) => {
      for (const w of self!.#pending.values()) w.reject(new Error(`${name} exited with ${code}`))
      self!.#pending.clear()
    })
    return self
  }

  get pid() {
    return this.proc.pid
  }

  call<T = any>(command: Record<string, unknown>): Promise<T> {
    const id = ++this.#next
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.proc.send({ id, ...command })
    })
  }

  /** Asks the child to exit (waits at most `graceMs`), then kills it. */
  async stop(graceMs: number) {
    try {
      await Promise.race([this.call({ cmd: 'exit' }), Bun.sleep(graceMs)])
    } catch {}
    this.proc.kill()
    await this.proc.exited
  }
}

import { statSync } from 'node:fs'
import { embedded } from '../embedded'
import { log } from '../log'

/** What the main thread tells the checkpoint worker (src/db/wal-checkpoint-worker.ts). */
export type CheckpointWorkerCommand = { type: 'start'; file: string; everyMs: number } | { type: 'stop' }

/** What the worker tells back. */
export type CheckpointerMessage =
  /** `copied`: the pages this checkpoint copied into the database file. */
  { type: 'checkpointed'; copied: number } | { type: 'failed'; error: string } | { type: 'stopped' }

export interface WalCheckpointerOptions {
  /** The worker starts once the log file reaches this size (default 4 MiB); a quiet database never needs one. */
  startAtBytes?: number
  /** How often the worker checkpoints once started (default 250 ms). */
  everyMs?: number
  /** How often the log's size is looked at before that (default 1 s). */
  watchEveryMs?: number
  /**
   * The server's connection still checkpoints once the log passes this (default 64 MiB). Under
   * writes without a pause the worker's checkpoints copy the log but never get to start it over
   * (only a writer that finds it all copied does), so without this it would grow without bound;
   * by then the worker has copied nearly all of it, and what is left is quick.
   */
  backstopBytes?: number
  /** The worker's script (tests give one that fails). */
  workerUrl?: string | URL
}

export interface CheckpointStats {
  /** Checkpoints the worker ran. */
  checkpoints: number
  /** Log frames copied into the database file by them. */
  framesCopied: number
}

/**
 * Checkpoints a WAL database from a worker thread, so the server's one thread (almost) never does.
 *
 * By default SQLite checkpoints inside the commit that grows the log past 1,000 pages: that
 * commit copies every page of the log back into the file and syncs it (4 MiB with 4 KiB pages,
 * 16 MiB with the 16 KiB pages of older files: about 12 ms on the reference machine), and
 * whichever run's write it was waits, along with every event queued behind it. A third of what
 * a commit cost on average was this (docs/performance.md, "Round 5"). Here the server's
 * connection checkpoints only as a backstop (`backstopBytes`); once the log passes
 * `startAtBytes`, a worker thread with a connection of its own runs a PASSIVE checkpoint every
 * `everyMs`, which copies what no reader still needs without taking the write lock. If the worker cannot run, the connection goes back to SQLite's own
 * checkpoints.
 */
export class WalCheckpointer {
  readonly stats: CheckpointStats = { checkpoints: 0, framesCopied: 0 }
  #worker: Worker | undefined
  #watch: ReturnType<typeof setInterval> | undefined
  #stopped = false
  readonly #options: Required<Omit<WalCheckpointerOptions, 'workerUrl' | 'backstopBytes'>> & { workerUrl: string | URL }

  /**
   * `autoCheckpoint(pages)` sets the server connection's `wal_autocheckpoint`: the backstop
   * before anything else, SQLite's default (1,000 pages) if the worker fails.
   */
  static async start(
    file: string,
    pageSize: number,
    autoCheckpoint: (pages: number) => Promise<unknown>,
    options: WalCheckpointerOptions = {},
  ): Promise<WalCheckpointer> {
    await autoCheckpoint(Math.max(1, Math.floor((options.backstopBytes ?? 64 * 1024 * 1024) / pageSize)))
    return new WalCheckpointer(file, autoCheckpoint, options)
  }

  private constructor(
    private readonly file: string,
    private readonly autoCheckpoint: (pages: number) => Promise<unknown>,
    options: WalCheckpointerOptions,
  ) {
    this.#options = {
      startAtBytes: options.startAtBytes ?? 4 * 1024 * 1024,
      everyMs: options.everyMs ?? 250,
      watchEveryMs: options.watchEveryMs ?? 1000,
      // Inside the single-file build the worker is an entry point of its own (scripts/build.ts).
      workerUrl:
        options.workerUrl ?? embedded.checkpointWorker ?? new URL('./wal-checkpoint-worker.ts', import.meta.url),
    }
    this.#watch = setInterval(() => this.#look(), this.#options.watchEveryMs)
    this.#watch.unref?.()
  }

  /** Whether the worker thread is running. */
  get running(): boolean {
    return this.#worker !== undefined
  }

  #look() {
    let size = 0
    try {
      size = statSync(`${this.file}-wal`).size
    } catch {
      return // no log yet
    }
    if (size >= this.#options.startAtBytes) this.#startWorker()
  }

  #startWorker() {
    if (this.#watch) clearInterval(this.#watch)
    this.#watch = undefined
    let worker: Worker
    try {
      // Bun's workers keep no process alive (`ref: false` by default); a small heap is plenty.
      worker = new Worker(this.#options.workerUrl, { smol: true })
    } catch (error) {
      this.#fallBack(String(error))
      return
    }
    this.#worker = worker
    worker.onmessage = (event: MessageEvent<CheckpointerMessage>) => this.#heard(event.data)
    worker.onerror = (event) => this.#fallBack(event.message || 'the checkpoint worker failed')
    worker.postMessage({
      type: 'start',
      file: this.file,
      everyMs: this.#options.everyMs,
    } satisfies CheckpointWorkerCommand)
  }

  #heard(message: CheckpointerMessage) {
    if (message.type === 'checkpointed') {
      this.stats.checkpoints++
      this.stats.framesCopied += message.copied
    } else if (message.type === 'failed') this.#fallBack(message.error)
  }

  /** The worker could not run: SQLite checkpoints on the server's connection again, as by default. */
  #fallBack(reason: string) {
    this.#worker?.terminate()
    this.#worker = undefined
    if (this.#stopped) return
    this.#stopped = true
    log.warn('WAL checkpoints run on the server thread: the checkpoint worker failed', { reason })
    this.autoCheckpoint(1000).catch(() => {})
  }

  /** Stops watching and lets the worker close its connection and end. */
  stop(): void {
    this.#stopped = true
    if (this.#watch) clearInterval(this.#watch)
    this.#watch = undefined
    const worker = this.#worker
    this.#worker = undefined
    if (!worker) return
    // It ends once its connection is closed (or after a second, whatever it is doing).
    const end = () => worker.terminate()
    worker.onmessage = (event: MessageEvent<CheckpointerMessage>) => event.data.type === 'stopped' && end()
    worker.onerror = end
    setTimeout(end, 1000).unref?.()
    worker.postMessage({ type: 'stop' } satisfies CheckpointWorkerCommand)
  }
}

/**
 * Streams a file while another process is still appending to it: readers follow the writer and
 * finish when the build reports completion, so every waiter gets bytes as soon as they exist and
 * nobody holds the whole asset in memory. The file descriptor is opened up front, so the reader
 * keeps working when the finished file is renamed into the store.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { EventEmitter } from 'node:events'

export type BuildState = { kind: 'running' } | { kind: 'done' } | { kind: 'failed'; error: Error }

/** Progress of one build's output file, observed by any number of readers. */
export class GrowingFile extends EventEmitter {
  state: BuildState = { kind: 'running' }

  constructor(readonly path: string) {
    super()
    this.setMaxListeners(0)
  }

  finish(): void {
    this.state = { kind: 'done' }
    this.emit('change')
  }

  fail(error: Error): void {
    this.state = { kind: 'failed', error }
    this.emit('change')
  }

  /** Resolves on the next state change or after `ms` (readers poll the file size meanwhile). */
  private waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t)
        this.off('change', done)
        resolve()
      }
      const t = setTimeout(done, ms)
      this.on('change', done)
    })
  }

  /** Readers currently waiting (for tests: must not grow while polling). */
  get waiters(): number {
    return this.listenerCount('change')
  }

  /** Resolves when the file has at least one byte, or the build ended (whichever first). */
  async firstByteOrEnd(): Promise<void> {
    for (;;) {
      if (this.state.kind !== 'running') return
      const size = Bun.file(this.path).size
      if (size > 0) return
      await this.waitForChange(25)
    }
  }

  /**
   * A stream of the whole file that follows the writer until the build ends. The file is opened
   * now (throws ENOENT if it is already gone, e.g. renamed into the store: read it there).
   */
  async reader(chunkSize = 1 << 20): Promise<ReadableStream<Uint8Array>> {
    let fh: FileHandle | undefined = await open(this.path, 'r')
    let offset = 0
    const buf = new Uint8Array(chunkSize)
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          for (;;) {
            const stateBefore = this.state.kind
            if (!fh) return
            const { bytesRead } = await fh.read(buf, 0, buf.byteLength, offset)
            if (bytesRead > 0) {
              offset += bytesRead
              controller.enqueue(buf.slice(0, bytesRead))
              return
            }
            if (this.state.kind === 'failed') throw this.state.error
            // Only end after a read that started when the build was already done saw no data.
            if (stateBefore === 'done') {
              await fh.close()
              fh = undefined
              controller.close()
              return
            }
            await this.waitForChange(25)
          }
        } catch (err) {
          await fh?.close().catch(() => {})
          controller.error(err)
        }
      },
      cancel: async () => {
        await fh?.close().catch(() => {})
      },
    })
  }
}

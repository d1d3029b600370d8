/**
 * Filesystem schematic store (embedded default): `<dir>/<aa>/<id>.yaml`, content-addressed by ID
 * and written atomically. The two-character fan-out keeps directories small at 100k schematics.
 */
import { join } from 'node:path'
import { stat } from 'node:fs/promises'
import { writeFileAtomic } from './atomic-file.ts'
import { isSchematicId, type SchematicStore } from './schematic-store.ts'

export class FsSchematicStore implements SchematicStore {
  constructor(private readonly dir: string) {}

  private pathFor(id: string): string {
    return join(this.dir, id.slice(0, 2), `${id}.yaml`)
  }

  async get(id: string): Promise<Uint8Array | null> {
    if (!isSchematicId(id)) return null
    const file = Bun.file(this.pathFor(id))
    if (!(await file.exists())) return null
    return new Uint8Array(await file.arrayBuffer())
  }

  async has(id: string): Promise<boolean> {
    if (!isSchematicId(id)) return false
    try {
      return (await stat(this.pathFor(id))).isFile()
    } catch {
      return false
    }
  }

  async put(id: string, canonical: Uint8Array): Promise<void> {
    if (!isSchematicId(id)) throw new Error(`refusing to store schematic under malformed ID ${JSON.stringify(id)}`)
    if (await this.has(id)) return
    await writeFileAtomic(this.pathFor(id), canonical)
  }
}

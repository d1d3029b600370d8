/** Small filesystem helpers shared by the stores, the catalogue and the builder. */
import { stat } from 'node:fs/promises'

/** True when something exists at `path` (following symlinks). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

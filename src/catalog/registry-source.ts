/**
 * ImageSource backed by the upstream registry: tags from the registry, image filesystems
 * extracted once into `<dir>/<repository>/<manifest digest>.layout2` (content-addressed, so a tag
 * that moves gets a new directory and two nodes never disagree about what a directory holds),
 * each with its extraction record (SELinux labels, see src/oci/extract-image.ts) beside it.
 *
 * Layout 2 keeps setuid/setgid/sticky bits and writes the record. Directories of the first layout
 * (`<repository>/<digest>`, no suffix, no record) are never read again: they lack both, so they are
 * left alone (another node of an older release may still use them) and can be deleted by hand.
 */
import { pathExists } from '../fs-util.ts'
import { join } from 'node:path'
import { NotFoundError } from '../errors.ts'
import type { RegistryClient } from '../oci/client.ts'
import { extractImage, extractionRecordPath } from '../oci/extract-image.ts'
import { SingleFlight } from '../single-flight.ts'
import type { ImageSource } from './catalog.ts'

/** Suffix of the extraction directories of the current layout. */
export const EXTRACTION_LAYOUT = 'layout2'

export class RegistryImageSource implements ImageSource {
  private readonly flights = new SingleFlight<string>()
  private readonly byTag = new Map<string, string>()

  constructor(
    private readonly client: RegistryClient,
    private readonly dir: string,
    private readonly arch = 'amd64',
    /** the extraction (a parameter so tests can stand in for a racing node) */
    private readonly extractTo: typeof extractImage = extractImage,
  ) {}

  listTags(repository: string): Promise<string[]> {
    return this.client.listTags(repository)
  }

  extract(repository: string, tag: string): Promise<string> {
    const key = `${repository}:${tag}`
    const known = this.byTag.get(key)
    if (known) return Promise.resolve(known)
    return this.flights.run(key, async () => {
      const head = await this.client.headManifest(repository, tag)
      if (!head) throw new NotFoundError(`image ${repository}:${tag} not found`)
      const dest = join(this.dir, repository.replaceAll('/', '_'), `${head.digest.replace(':', '-')}.${EXTRACTION_LAYOUT}`)
      if (!(await pathExists(dest))) {
        await this.extractTo(this.client, repository, head.digest, this.arch, dest, { recordPath: extractionRecordPath(dest) }).catch(async (err: unknown) => {
          // another node sharing the data directory extracted it since we looked (it renames the
          // finished tree into place, so what exists is complete): use theirs
          if (!(await pathExists(dest))) throw err
        })
      }
      this.byTag.set(key, dest)
      return dest
    })
  }
}

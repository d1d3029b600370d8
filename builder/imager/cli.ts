#!/usr/bin/env bun
/**
 * Native imager command:
 *
 *   bun builder/imager/cli.ts --output <file> [--cache-dir <dir>] [--work-dir <dir>]
 *                             [--extension-digests '<json {tarballPath: digest}>'] [--grub-dir <dir>]…
 *                             [--verbose] < profile.yaml
 *
 * `--grub-dir`: a GRUB module root (`<dir>/<platform>/`) to use before the host's /usr/lib/grub.
 *
 * Reads a Talos imager profile (YAML) on stdin and writes the asset to <file> progressively.
 * Exit codes as the reference imager (0 ok, 1 unknown, 2 invalid input, 3 unsupported,
 * 4 environment, 5 dependency/tool, 6 IO; 130 cancelled by SIGINT/SIGTERM). On failure the last
 * stderr line is a one-line reason. `--verbose` prints a JSON summary to stderr on success.
 */
import { parseArgs } from 'node:util'
import { InvalidInputError } from '../../src/errors.ts'
import { exitCodeFor, oneLine } from './errors.ts'
import { runImager } from './index.ts'

function parseDigests(text: string | undefined): Record<string, string> | undefined {
  if (text === undefined) return undefined
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    throw new InvalidInputError('--extension-digests must be a JSON object {"<tarballPath>": "<digest>"}')
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((d) => typeof d === 'string')) {
    throw new InvalidInputError('--extension-digests must be a JSON object {"<tarballPath>": "<digest>"}')
  }
  return v as Record<string, string>
}

async function main(): Promise<number> {
  const controller = new AbortController()
  const onSignal = (): void => controller.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        output: { type: 'string' },
        'cache-dir': { type: 'string' },
        'work-dir': { type: 'string' },
        'extension-digests': { type: 'string' },
        'grub-dir': { type: 'string', multiple: true },
        verbose: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    })
    if (values.output === undefined || values.output === '') throw new InvalidInputError('--output <file> is required')
    const profile = await new Response(Bun.stdin.stream()).text()
    const digests = parseDigests(values['extension-digests'])
    const result = await runImager(profile, {
      output: values.output,
      ...(values['cache-dir'] !== undefined ? { cacheDir: values['cache-dir'] } : {}),
      ...(values['work-dir'] !== undefined ? { workDir: values['work-dir'] } : {}),
      ...(digests !== undefined ? { extensionDigests: digests } : {}),
      ...(values['grub-dir'] !== undefined ? { grubDirs: values['grub-dir'] } : {}),
      signal: controller.signal,
    })
    if (values.verbose === true) process.stderr.write(`${JSON.stringify(result)}\n`)
    return 0
  } catch (err) {
    const code = err instanceof TypeError && (err as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS') ? 2 : exitCodeFor(err)
    process.stderr.write(`${oneLine(err)}\n`)
    return code
  }
}

process.exit(await main())

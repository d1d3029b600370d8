#!/usr/bin/env bun
/**
 * Native imager command:
 *
 *   bun builder/imager/cli.ts --output <file> [--cache-dir <dir>] [--work-dir <dir>]
 *                             [--extension-digests '<json {tarballPath: digest}>']
 *                             [--extension-labels '<json {tarballPath: extraction record file}>']
 *                             [--selinux-labels auto|on|off] [--grub-dir <dir>]…
 *                             [--well-known-certs <dir>] [--verbose] < profile.yaml
 *
 * `--grub-dir`: a GRUB module root (`<dir>/<platform>/`) to use before the host's /usr/lib/grub.
 * `--well-known-certs`: the `kek/` and `db/` certificates `includeWellKnownCerts` enrols
 * (src/secureboot/well-known.ts); without it such profiles fail as unsupported (exit 3).
 * Reads a Talos imager profile (YAML) on stdin and writes the asset to <file> progressively.
 * Exit codes as the reference imager (0 ok, 1 unknown, 2 invalid input, 3 unsupported,
 * 4 environment, 5 dependency/tool, 6 IO; 130 cancelled by SIGINT/SIGTERM). On failure the last
 * stderr line is a one-line reason. `--verbose` prints a JSON summary to stderr on success; a
 * `warning:` line says when layers were built without SELinux labels that were asked for.
 */
import { parseArgs } from 'node:util'
import { InvalidInputError } from '../../src/errors.ts'
import { exitCodeFor, oneLine } from './errors.ts'
import { runImager } from './index.ts'
import type { SelinuxLabelsSetting } from './xattrs.ts'

function parseMap(flag: string, value: string, text: string | undefined): Record<string, string> | undefined {
  if (text === undefined) return undefined
  const bad = new InvalidInputError(`--${flag} must be a JSON object {"<tarballPath>": "<${value}>"}`)
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    throw bad
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((d) => typeof d === 'string')) throw bad
  return v as Record<string, string>
}

function parseLabelsSetting(text: string | undefined): SelinuxLabelsSetting {
  if (text === undefined || text === 'auto' || text === 'on' || text === 'off') return text ?? 'auto'
  throw new InvalidInputError('--selinux-labels must be auto, on or off')
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
        'extension-labels': { type: 'string' },
        'selinux-labels': { type: 'string' },
        'well-known-certs': { type: 'string' },
        verbose: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    })
    if (values.output === undefined || values.output === '') throw new InvalidInputError('--output <file> is required')
    const profile = await new Response(Bun.stdin.stream()).text()
    const digests = parseMap('extension-digests', 'digest', values['extension-digests'])
    const labels = parseMap('extension-labels', 'extraction record file', values['extension-labels'])
    const result = await runImager(profile, {
      output: values.output,
      ...(values['cache-dir'] !== undefined ? { cacheDir: values['cache-dir'] } : {}),
      ...(values['work-dir'] !== undefined ? { workDir: values['work-dir'] } : {}),
      ...(digests !== undefined ? { extensionDigests: digests } : {}),
      ...(values['grub-dir'] !== undefined ? { grubDirs: values['grub-dir'] } : {}),
      ...(labels !== undefined ? { extensionLabels: labels } : {}),
      ...(values['well-known-certs'] ? { wellKnownCertsDir: values['well-known-certs'] } : {}),
      selinuxLabels: parseLabelsSetting(values['selinux-labels']),
      signal: controller.signal,
    })
    const fallback = result.initramfs?.xattrsFallback
    if (fallback !== undefined) process.stderr.write(`warning: extension layers carry no SELinux labels: ${fallback}\n`)
    if (values.verbose === true) process.stderr.write(`${JSON.stringify(result)}\n`)
    return 0
  } catch (err) {
    const code = err instanceof TypeError && (err as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS') ? 2 : exitCodeFor(err)
    process.stderr.write(`${oneLine(err)}\n`)
    return code
  }
}

process.exit(await main())

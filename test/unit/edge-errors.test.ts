/**
 * Internal failures become fixed one-line answers; their detail (host paths, tool output) goes to
 * the log only. Typed client errors keep their reason.
 */
import { describe, expect, test } from 'bun:test'
import { BuildFailedError, InProcessBuilder } from '../../edge/builder-client.ts'
import { errorToResponse } from '../../edge/http/errors.ts'
import type { BuildManager } from '../../builder/manager.ts'
import type { BuildJob } from '../../builder/job.ts'
import { BuildInputError } from '../../builder/job.ts'
import { createLogger } from '../../src/log.ts'
import { NotImplementedError, UpstreamUnavailableError } from '../../src/errors.ts'

const JOB = {
  key: 'a'.repeat(64),
  contentType: 'application/octet-stream',
  urlParts: ['b'.repeat(64), 'v1.12.0', 'kernel-amd64'],
  version: 'v1.12.0',
  schematic: { id: 'b'.repeat(64), canonical: '' },
  profile: {},
  dependencies: [],
} as unknown as BuildJob

const failing = (err: unknown) => new InProcessBuilder({ request: async () => Promise.reject(err) } as unknown as BuildManager)

async function answer(err: unknown, requestId = 'req-7'): Promise<{ res: Response; text: string; logs: Record<string, unknown>[] }> {
  const lines: string[] = []
  const log = createLogger('debug', {}, (l) => lines.push(l))
  let thrown: unknown
  try {
    await failing(err).build({ schematic: JOB.schematic.id, version: JOB.version, path: JOB.urlParts[2] }, JOB)
  } catch (e) {
    thrown = e
  }
  const res = errorToResponse(thrown, log, { 'x-request-id': requestId }, { request_id: requestId, method: 'GET', path: '/image/x' })
  return { res, text: await res.text(), logs: lines.map((l) => JSON.parse(l) as Record<string, unknown>) }
}

describe('build failures reaching the edge', () => {
  test('an unexpected imager failure → 500, fixed line with the request ID; the detail is logged with the asset', async () => {
    const { res, text, logs } = await answer(new Error('mksquashfs failed: cannot open /var/lib/factory/work/job-1/rootfs: Permission denied'))
    expect(res.status).toBe(500)
    expect(text).toBe('build failed (see the factory log, request req-7)\n')
    const entry = logs.find((l) => l.msg === 'build failed')
    expect(entry).toBeDefined()
    expect(String(entry?.error)).toContain('/var/lib/factory/work/job-1/rootfs')
    expect(entry?.asset).toBe(JOB.urlParts.join('/'))
    expect(entry?.key).toBe(JOB.key)
    expect(entry?.request_id).toBe('req-7')
  })

  test('without a request ID the line still stands alone', async () => {
    const { text } = await answer(new Error('boom at /srv/x'), '')
    expect(text).toBe('build failed (see the factory log)\n')
  })

  test('client errors keep their reasons', async () => {
    const input = await answer(new BuildInputError('error validating extension "x": version constraint >= 9.0.0 can\'t be satisfied with Talos version 1.12.0'))
    expect(input.res.status).toBe(400)
    expect(input.text).toContain('error validating extension "x"')
    const unsupported = await answer(new NotImplementedError('output kind iso is not implemented by this factory yet'))
    expect(unsupported.res.status).toBe(501)
    expect(unsupported.text).toBe('output kind iso is not implemented by this factory yet\n')
    const busy = await answer(new UpstreamUnavailableError('registry is unreachable'))
    expect(busy.res.status).toBe(503)
    expect(busy.text).toBe('registry is unreachable\n')
  })

  test('a BuildFailedError thrown elsewhere is never echoed', async () => {
    const lines: string[] = []
    const res = errorToResponse(new BuildFailedError('build failed: /tmp/secret'), createLogger('debug', {}, (l) => lines.push(l)), {})
    expect(res.status).toBe(500)
    expect(await res.text()).not.toContain('/tmp/secret')
    expect(lines.join('')).toContain('/tmp/secret')
  })
})

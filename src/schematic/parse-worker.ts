/**
 * Entry point of a schematic parser worker (./worker-pool.ts): runs the synchronous parser on one
 * request at a time, off the edge's event loop.
 */
import { isFactoryError } from '../errors.ts'
import { canonicalize } from './index.ts'
import { withDefaults, type ParseLimits } from './limits.ts'
import { parseSchematic } from './parse.ts'
import { schematicToWire } from './wire.ts'
import type { WorkerReply, WorkerRequest } from './worker-pool.ts'

declare const self: Worker

function run(req: WorkerRequest, limits: ParseLimits): WorkerReply {
  if (req.op === 'canonicalize') {
    const { id, canonical } = canonicalize(req.body, limits)
    return { seq: req.seq, ok: true, op: 'canonicalize', id, canonical }
  }
  return { seq: req.seq, ok: true, op: 'parse', ...schematicToWire(parseSchematic(req.body, limits)) }
}

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const req = event.data
  let reply: WorkerReply
  try {
    reply = run(req, withDefaults(req.limits))
  } catch (err) {
    reply = isFactoryError(err)
      ? { seq: req.seq, ok: false, status: err.status, message: err.message }
      : { seq: req.seq, ok: false, status: 500, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }
  }
  self.postMessage(reply)
}

// Compile the parser before taking requests: a replaced worker's first request would otherwise pay
// for it out of its time budget.
const WARM_UP = `overlay: {image: x, name: 'y', options: {a: [1, 1.5, true, null, 2024-01-01, "s"], b: {c: &c d}, e: *c, 9: f}}
customization:
  extraKernelArgs: [console=ttyS0]
  meta: [{key: 0xa, value: v}]
  systemExtensions: {officialExtensions: [siderolabs/gvisor]}
  embeddedMachineConfiguration: |
    a: b
`
canonicalize(WARM_UP)
self.postMessage({ ready: true } satisfies WorkerReply)

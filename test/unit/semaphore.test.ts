import { expect, test } from 'bun:test'
import { Semaphore } from '../../builder/semaphore.ts'

test('never more than the limit, even when a caller arrives right after a release', async () => {
  const sem = new Semaphore(1)
  let running = 0
  let peak = 0
  const job = async () => {
    const release = await sem.acquire()
    running++
    peak = Math.max(peak, running)
    await Bun.sleep(1)
    running--
    release()
  }
  const first = sem.acquire()
  const release = await first
  const waiting = job() // queued behind the held slot
  release()
  const late = job() // arrives between the release and the waiter's wake-up
  await Promise.all([waiting, late, ...Array.from({ length: 20 }, job)])
  expect(peak).toBe(1)
  expect(sem.running).toBe(0)
  expect(sem.waiting).toBe(0)
})

test('FIFO order and double release is harmless', async () => {
  const sem = new Semaphore(1)
  const order: number[] = []
  const r0 = await sem.acquire()
  const done = [1, 2, 3].map(async (i) => {
    const r = await sem.acquire()
    order.push(i)
    r()
  })
  r0()
  r0()
  await Promise.all(done)
  expect(order).toEqual([1, 2, 3])
  expect(sem.running).toBe(0)
})

import { expect, test } from 'bun:test'
import { Registry } from '../../src/metrics.ts'

test('Prometheus text exposition: counters with labels, gauges, histograms', () => {
  const r = new Registry()
  const c = r.counter('x_total', 'things')
  c.inc({ route: '/a', code: '200' })
  c.inc({ code: '200', route: '/a' }, 2)
  c.inc({ route: '/b"\n', code: '404' })
  let n = 7
  r.gauge('y', 'a gauge', () => n)
  r.counterFunc('z_total', 'kept elsewhere', () => 3)
  const h = r.histogram('d_seconds', 'latency', [0.1, 1])
  h.observe(0.05)
  h.observe(0.5)
  h.observe(5)
  n = 8
  expect(r.render()).toBe(
    [
      '# HELP x_total things',
      '# TYPE x_total counter',
      'x_total{code="200",route="/a"} 3',
      'x_total{code="404",route="/b\\"\\n"} 1',
      '# HELP y a gauge',
      '# TYPE y gauge',
      'y 8',
      '# HELP z_total kept elsewhere',
      '# TYPE z_total counter',
      'z_total 3',
      '# HELP d_seconds latency',
      '# TYPE d_seconds histogram',
      'd_seconds_bucket{le="0.1"} 1',
      'd_seconds_bucket{le="1"} 2',
      'd_seconds_bucket{le="+Inf"} 3',
      'd_seconds_sum 5.55',
      'd_seconds_count 3',
      '',
    ].join('\n'),
  )
})

/**
 * A small Prometheus registry (text exposition format 0.0.4): counters, gauges and histograms with
 * labels. Enough for the factory's own metrics without a dependency.
 */
type Labels = Record<string, string>

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',')
}

function fmt(n: number): string {
  if (n === Number.POSITIVE_INFINITY) return '+Inf'
  return Number.isInteger(n) ? String(n) : n.toPrecision(12).replace(/\.?0+$/, '')
}

interface Metric {
  render(): string
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>()
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels)
    this.values.set(k, (this.values.get(k) ?? 0) + by)
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`]
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ''} ${fmt(v)}`)
    return lines.join('\n')
  }
}

/** A gauge, or a counter kept elsewhere (`type: 'counter'`), read when scraped. */
export class ValueFunc implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly type: 'gauge' | 'counter',
    private readonly read: () => number,
  ) {}

  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, `${this.name} ${fmt(this.read())}`].join('\n')
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>()
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels)
    let s = this.series.get(k)
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }
      this.series.set(k, s)
    }
    this.buckets.forEach((b, i) => {
      if (value <= b) s.counts[i]!++
    })
    s.sum += value
    s.count++
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    for (const [k, s] of this.series) {
      const sep = k ? `${k},` : ''
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{${sep}le="${fmt(b)}"} ${s.counts[i]}`))
      lines.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`)
      lines.push(`${this.name}_sum${k ? `{${k}}` : ''} ${fmt(s.sum)}`)
      lines.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`)
    }
    return lines.join('\n')
  }
}

export class Registry {
  private readonly metrics: Metric[] = []

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help))
  }

  gauge(name: string, help: string, read: () => number): ValueFunc {
    return this.add(new ValueFunc(name, help, 'gauge', read))
  }

  counterFunc(name: string, help: string, read: () => number): ValueFunc {
    return this.add(new ValueFunc(name, help, 'counter', read))
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets))
  }

  add<T extends Metric>(m: T): T {
    this.metrics.push(m)
    return m
  }

  render(): string {
    return `${this.metrics.map((m) => m.render()).join('\n')}\n`
  }
}

export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
export const BUILD_BUCKETS = [0.1, 0.5, 1, 10, 60, 180, 600]

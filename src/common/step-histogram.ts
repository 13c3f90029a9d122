/**
 * A Prometheus histogram for a hot path: an observation finds its bucket in a short array and adds
 * to three numbers. prom-client's Histogram builds, checks and hashes the label set on every call;
 * a speaker step observes a dozen durations, and at one step a second, with the code cold, those
 * calls were a tenth of the step. Scraped through a prom-client Registry like its own metrics (the
 * registry calls `get()`), in the same exposition: `_bucket{le=…}` (cumulative), `_sum`, `_count`.
 */
import type { Histogram, Registry } from "prom-client";

interface Series {
  labels: Record<string, string>;
  /** Per bucket (not cumulative), the last for values above every bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

export interface StepHistogramOptions {
  name: string;
  help: string;
  /** Upper bounds, ascending (seconds for a duration). */
  buckets: readonly number[];
  /** One label at most: its values are the series (e.g. a step's phases). */
  labelName?: string;
  registers?: Registry[];
}

export class StepHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly bounds: readonly number[];
  private readonly labelName: string | undefined;
  private readonly series = new Map<string, Series>();

  constructor(o: StepHistogramOptions) {
    this.name = o.name;
    this.help = o.help;
    this.bounds = [...o.buckets];
    for (let i = 1; i < this.bounds.length; i++)
      if (!(this.bounds[i]! > this.bounds[i - 1]!)) throw new RangeError(`${o.name}: buckets must ascend`);
    this.labelName = o.labelName;
    if (!this.labelName) this.seriesOf(""); // shown at zero before the first value, as prom-client does
    // The registry only reads name, type, help and get(): a metric of its own kind in every way it uses.
    for (const r of o.registers ?? []) r.registerMetric(this as unknown as Histogram);
  }

  /** One value; `label` is the label's value (ignored without a label name). */
  observe(value: number, label = ""): void {
    if (!Number.isFinite(value)) return; // a clock oddity must not poison the sum
    const s = this.seriesOf(label);
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  private seriesOf(label: string): Series {
    let s = this.series.get(label);
    if (!s) {
      const labels: Record<string, string> = this.labelName ? { [this.labelName]: label } : {};
      s = { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.series.set(label, s);
    }
    return s;
  }

  /** The metric as prom-client's registry formats it. */
  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { labels: Record<string, string | number>; value: number; metricName: string }[];
  }> {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.series.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: "+Inf", ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  reset(): void {
    this.series.clear();
  }
}

import { Histogram, type HistogramConfiguration, type LabelValues } from 'prom-client';

/** What prom-client's `get()` resolves to (its types do not export the name). */
type Rendered<T extends string> = Awaited<ReturnType<Histogram<T>['get']>>;

interface RenderedValue {
  metricName: string;
  labels: Record<string, string | number | undefined>;
  value: number;
}

/** One labelled series: where a request's observation goes. */
export interface HistogramSeries {
  observe(seconds: number): void;
}

interface Series<T extends string> extends HistogramSeries {
  labels: LabelValues<T>;
  /** per bucket, not cumulative; the last one is above the highest bound */
  buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * A prom-client histogram whose observations are counted here, in a typed array per series that the
 * caller keeps: an observation is a bucket search and three additions (about 20 ns), with no object
 * built. prom-client's own `observe` builds a labels object and a hash string per call (about 1 µs
 * measured here), which the ingest hot path would pay on every report. prom-client renders the
 * counts as usual when the registry is scraped.
 */
export class PrecountedHistogram<T extends string> extends Histogram<T> {
  private readonly bounds: number[];
  private readonly metricName: string;
  private readonly helpText: string;
  private all: Array<Series<T>> = [];

  constructor(config: HistogramConfiguration<T> & { buckets: number[] }) {
    super(config);
    this.bounds = [...config.buckets].sort((a, b) => a - b);
    this.metricName = config.name;
    this.helpText = config.help;
  }

  /** A new series with these labels; keep it (asking twice for the same labels makes two series). */
  series(labels: LabelValues<T>): HistogramSeries {
    const bounds = this.bounds;
    const series: Series<T> = {
      labels,
      buckets: new Float64Array(bounds.length + 1),
      sum: 0,
      count: 0,
      observe(seconds) {
        let i = 0;
        while (i < bounds.length && seconds > bounds[i]!) i++;
        series.buckets[i]!++;
        series.sum += seconds;
        series.count++;
      },
    };
    this.all.push(series);
    return series;
  }

  override async get(): Promise<Rendered<T>> {
    return this.render();
  }

  /** What prom-client's registry renders the text format from. */
  async getForPromString(): Promise<Rendered<T>> {
    return this.render();
  }

  override reset(): void {
    // Also called by prom-client's constructor, before this class's fields exist.
    for (const series of this.all ?? []) {
      series.buckets.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  private render(): Rendered<T> {
    const values: RenderedValue[] = [];
    const bucket = `${this.metricName}_bucket`;
    for (const s of this.all) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += s.buckets[i]!;
        values.push({ metricName: bucket, labels: { ...s.labels, le: bound }, value: cumulative });
      });
      values.push({ metricName: bucket, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      values.push({ metricName: `${this.metricName}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.metricName}_count`, labels: s.labels, value: s.count });
    }
    // The runtime shape of prom-client's own histograms (its types call `type` an enum; it is the text).
    return { name: this.metricName, help: this.helpText, type: 'histogram', values, aggregator: 'sum' } as unknown as Rendered<T>;
  }
}

import { spawnSync } from 'node:child_process';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** One sample line of an exposition: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  text: string;
  /** every family by name: its type (`counter`, `gauge`, `histogram`, …) and help */
  families: Map<string, { type: string; help: string }>;
  samples: Sample[];
}

/**
 * Parses the Prometheus text format with parse-prometheus-text-format. That library folds all the
 * series of a labelled histogram into one, so samples are read from a second parse in which
 * histogram families are declared untyped: each `_bucket`, `_sum` and `_count` line is then a sample
 * of its own, with its labels.
 */
export function parseExposition(text: string): Exposition {
  const families = new Map<string, { type: string; help: string }>();
  for (const family of parsePrometheusTextFormat(text)) families.set(family.name, { type: family.type.toLowerCase(), help: family.help });
  const flat = text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped');
  const samples: Sample[] = [];
  for (const family of parsePrometheusTextFormat(flat)) {
    for (const metric of family.metrics) {
      if (metric.value === undefined) continue;
      samples.push({ name: family.name, labels: metric.labels ?? {}, value: Number(metric.value) });
    }
  }
  return { text, families, samples };
}

/** GET a /metrics URL: the answer must be 200 in the text format; returns it parsed. */
export async function scrape(url: string): Promise<Exposition> {
  const response = await fetch(url);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`scrape of ${url} answered ${response.status}: ${text}`);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(text);
}

/** The samples of one name whose labels include `labels`. */
export function samplesOf(expo: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return expo.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample of `name` with exactly these labels (besides none), or undefined. */
export function valueOf(expo: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.keys(labels).length;
  const found = samplesOf(expo, name, labels).filter((s) => Object.keys(s.labels).length === wanted);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

const BASE_UNIT_INSTEAD: Record<string, string> = {
  milliseconds: 'seconds',
  microseconds: 'seconds',
  nanoseconds: 'seconds',
  minutes: 'seconds',
  hours: 'seconds',
  days: 'seconds',
  ms: 'seconds',
  kilobytes: 'bytes',
  megabytes: 'bytes',
  gigabytes: 'bytes',
  percent: 'ratio',
};

/**
 * The Prometheus naming rules (https://prometheus.io/docs/practices/naming/ and promtool's lint), so
 * they are checked even where promtool is not installed: snake_case names without `:`, counters end
 * in `_total` and nothing else does, base units, no type in the name, no reserved suffixes outside
 * histograms and summaries, a help text, valid label names.
 */
export function namingProblems(expo: Exposition): string[] {
  const problems: string[] = [];
  for (const [name, { type, help }] of expo.families) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) problems.push(`${name}: not snake_case (or uses the reserved ':')`);
    if (type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: a counter must end in _total`);
    if (type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: a ${type} must not end in _total`);
    if (type !== 'histogram' && type !== 'summary' && /_(bucket|count|sum)$/.test(name)) problems.push(`${name}: _bucket/_count/_sum are for histograms and summaries`);
    if (/_(counter|gauge|histogram|summary)(_|$)/.test(name)) problems.push(`${name}: the type does not belong in the name`);
    for (const part of name.split('_')) if (BASE_UNIT_INSTEAD[part]) problems.push(`${name}: use ${BASE_UNIT_INSTEAD[part]}, not ${part}`);
    if (help.trim() === '') problems.push(`${name}: no help text`);
  }
  for (const sample of expo.samples) {
    for (const label of Object.keys(sample.labels)) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(label) || label.startsWith('__')) problems.push(`${sample.name}: bad label name ${label}`);
    }
  }
  return [...new Set(problems)];
}

/** Whether Debian's `promtool` is on PATH. */
export const PROMTOOL = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

/** What `promtool check metrics` says about an exposition ('' when it passes); null without promtool. */
export function promtoolCheck(text: string): string | null {
  if (!PROMTOOL) return null;
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return result.status === 0 ? '' : `${result.stdout}${result.stderr}`.trim() || `exit ${result.status}`;
}

/** Both checks on one exposition: the naming rules always, promtool where it is installed. */
export function expectWellNamed(expo: Exposition): void {
  expect(namingProblems(expo)).toEqual([]);
  const promtool = promtoolCheck(expo.text);
  if (promtool !== null) expect(promtool).toBe('');
}

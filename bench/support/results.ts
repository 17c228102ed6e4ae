import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineInfo, type MachineInfo } from './machine-info';
import { RESULTS_DIR } from './paths';

/** One target from the issue, judged on this run's figures. */
export interface TargetCheck {
  metric: string;
  measured: number;
  unit: string;
  /** e.g. "≤ 2" or "≥ 0.5× baseline" */
  target: string;
  met: boolean;
}

/** What every benchmark writes to bench/results/<name>.json; the runner's summary reads `targets`. */
export interface BenchResult<Figures = unknown> {
  benchmark: string;
  /** ISO time the benchmark started */
  date: string;
  machine: MachineInfo;
  durationSeconds: number;
  config: Record<string, unknown>;
  figures: Figures;
  targets: TargetCheck[];
  /** what limits a missed target, or anything a reader should know about this run */
  notes: string[];
}

export function newResult<F>(benchmark: string, startedAt: Date, config: Record<string, unknown>, figures: F, targets: TargetCheck[], notes: string[]): BenchResult<F> {
  return {
    benchmark,
    date: startedAt.toISOString(),
    machine: machineInfo(),
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    config,
    figures,
    targets,
    notes,
  };
}

export function writeResult(result: BenchResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${result.benchmark}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

/** A plain-text table (also valid Markdown), right-aligning numbers. */
export function formatTable(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.every((row) => typeof row[i] === 'number'));
  const line = (row: string[]) => `| ${row.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...cells.map(line)].join('\n');
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function targetRows(benchmark: string, targets: TargetCheck[]): Array<Array<string | number>> {
  return targets.map((t) => [benchmark, t.metric, `${formatNumber(t.measured)} ${t.unit}`.trim(), t.target, t.met ? 'met' : 'MISSED']);
}

export const TARGET_HEADERS = ['benchmark', 'metric', 'measured', 'target', 'result'];

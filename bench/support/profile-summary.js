'use strict';
/*
 * Top self-time functions of a .cpuprofile (as cpu-profile-hook.js writes them), optionally only the
 * samples between two moments of the profile, so start-up and shutdown stay out of a steady state.
 *
 *   node bench/support/profile-summary.js <file.cpuprofile> [--from-s 15] [--to-s 60] [--top 25]
 *
 * Prints each function's share of the non-idle samples and of all samples, with its file and line,
 * then the same grouped by where the code lives (node internals, a package in node_modules, ours).
 */
const { readFileSync } = require('node:fs');

function args() {
  const [file, ...rest] = process.argv.slice(2);
  const options = { file, fromS: 0, toS: Infinity, top: 25 };
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    options[key] = Number(rest[i + 1]);
  }
  if (!file) throw new Error('usage: profile-summary.js <file.cpuprofile> [--from-s S] [--to-s S] [--top N]');
  return options;
}

function where(url) {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg && !pkg[1].startsWith('@lunasentri')) return pkg[1];
  const ours = /packages\/([^/]+)\//.exec(url);
  return ours ? `@lunasentri/${ours[1]}` : url;
}

function main() {
  const options = args();
  const profile = JSON.parse(readFileSync(options.file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  let t = profile.startTime;
  let total = 0;
  let spanUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const s = (t - profile.startTime) / 1e6;
    if (s < options.fromS || s > options.toS) continue;
    spanUs += profile.timeDeltas[i];
    total++;
    counts.set(profile.samples[i], (counts.get(profile.samples[i]) ?? 0) + 1);
  }
  const byFunction = new Map();
  const byPlace = new Map();
  let idle = 0;
  for (const [id, n] of counts) {
    const node = nodes.get(id);
    const f = node.callFrame;
    if (f.functionName === '(idle)') {
      idle += n;
      continue;
    }
    const name = `${f.functionName || '(anonymous)'} ${f.url ? `${f.url.replace(/^.*\/(node_modules|packages)\//, '$1/')}:${f.lineNumber + 1}` : ''}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + n);
    const place = f.functionName.startsWith('(') ? f.functionName : where(f.url);
    byPlace.set(place, (byPlace.get(place) ?? 0) + n);
  }
  const busy = total - idle;
  const pct = (n, of) => `${((100 * n) / of).toFixed(1)}%`;
  process.stdout.write(`${options.file}: ${total} samples over ${(spanUs / 1e6).toFixed(1)} s, ${busy} busy (${pct(busy, total)})\n\n`);
  process.stdout.write('| self, of busy | function |\n|---:|---|\n');
  for (const [name, n] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, options.top)) process.stdout.write(`| ${pct(n, busy)} | ${name} |\n`);
  process.stdout.write('\n| self, of busy | where |\n|---:|---|\n');
  for (const [name, n] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, options.top)) process.stdout.write(`| ${pct(n, busy)} | ${name} |\n`);
}

main();

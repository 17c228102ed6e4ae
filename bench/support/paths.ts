import { join, resolve } from 'node:path';

/** The repository root (bench/support → ../..). */
export const REPO_ROOT = resolve(__dirname, '..', '..');

/** Where every benchmark writes its JSON (gitignored). */
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

/**
 * The real binaries, through the same pnpm shims an operator runs. The shims `exec` node, so the
 * pid we spawn is the node process itself and /proc/<pid> measures the service, not a shell.
 * BENCH_HEARTBEAT_BIN / BENCH_API_BIN point a run at another build (an executable that execs node).
 */
export const HEARTBEAT_BIN = process.env.BENCH_HEARTBEAT_BIN || join(REPO_ROOT, 'node_modules', '.bin', 'lunasentri-heartbeat');
export const API_BIN = process.env.BENCH_API_BIN || join(REPO_ROOT, 'node_modules', '.bin', 'lunasentri-api');

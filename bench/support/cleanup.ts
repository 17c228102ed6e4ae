import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Last-resort cleanups (kill children, remove temp folders) that must run however a benchmark ends:
 * normal exit, a thrown error, or Ctrl-C. They are synchronous because an 'exit' handler cannot wait.
 * Benchmarks still clean up in order themselves; these only catch what an early exit left behind.
 */
const cleanups = new Set<() => void>();
let installed = false;

export function onExit(cleanup: () => void): () => void {
  install();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

function runAll(): void {
  for (const cleanup of [...cleanups].reverse()) {
    try {
      cleanup();
    } catch {
      // Best effort: one failed cleanup must not keep the others from running.
    }
  }
  cleanups.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      runAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

export interface TempDir {
  dir: string;
  remove(): void;
}

/** A fresh folder under the OS temp dir (never ./data), removed by `remove()` or at exit. */
export function tempDir(prefix: string): TempDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const unregister = onExit(remove);
  return {
    dir,
    remove() {
      unregister();
      remove();
    },
  };
}

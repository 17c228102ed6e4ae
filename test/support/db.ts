import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest, openDatabase, type DatabaseHandle } from '@lunasentri/shared';

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = 'lunasentri-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestDb extends DatabaseHandle {
  /** Closes the connection and removes the temp folder. */
  dispose(): Promise<void>;
}

/** A real SQLite file in a temp folder with every migration applied. */
export async function createTestDb(): Promise<TestDb> {
  const { dir, cleanup } = tempDir();
  const handle = openDatabase(join(dir, 'lunasentri.db'));
  await migrateToLatest(handle.db);
  return Object.assign(handle, {
    async dispose() {
      await handle.close();
      cleanup();
    },
  });
}

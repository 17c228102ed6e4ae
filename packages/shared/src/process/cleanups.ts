import { errorMessage } from './process.errors';

export type Cleanup = () => unknown;

/**
 * Cleanups registered as resources are acquired, run in reverse order (the last acquired is released
 * first). One failing does not stop the others; its failure is reported and the rest still run.
 */
export class Cleanups {
  private readonly steps: Cleanup[] = [];
  private running: Promise<boolean> | null = null;

  add(cleanup: Cleanup): void {
    this.steps.push(cleanup);
  }

  /**
   * Runs every cleanup once, newest first. Resolves true when all finished, false when `deadlineMs`
   * passed first (the rest keep running in the background; the caller decides whether to wait).
   * Calling it again returns the same run.
   */
  run(report: (message: string) => void, deadlineMs?: number): Promise<boolean> {
    this.running ??= this.runAll(report, deadlineMs);
    return this.running;
  }

  private async runAll(report: (message: string) => void, deadlineMs: number | undefined): Promise<boolean> {
    const all = (async () => {
      for (const step of this.steps.splice(0).reverse()) {
        try {
          await step();
        } catch (error) {
          report(`Shutdown step failed: ${errorMessage(error)}`);
        }
      }
      return true;
    })();
    if (deadlineMs === undefined) return all;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs)));
    try {
      return await Promise.race([all, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

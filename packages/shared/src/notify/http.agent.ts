import type { Agent } from 'undici';

/**
 * Closes an undici agent, giving in-flight requests `graceMs` to finish. `Agent.close()` alone
 * waits for every request, and a receiver that never answers would hold shutdown forever, so after
 * the grace period the sockets are destroyed.
 */
export async function closeAgent(agent: Agent, graceMs: number): Promise<void> {
  let grace: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'grace'>((resolve) => {
    grace = setTimeout(() => resolve('grace'), graceMs);
  });
  const outcome = await Promise.race([agent.close().then(() => 'closed' as const), graceOver]);
  clearTimeout(grace);
  if (outcome === 'grace') await agent.destroy();
}

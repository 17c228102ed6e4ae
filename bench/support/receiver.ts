import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Arrival {
  /** Date.now() when the whole body had arrived */
  at: number;
  webhookId: string;
  event: string | undefined;
  machineId: number | undefined;
}

export interface ReceiverOptions {
  /** When set, the first `verifySample` requests are checked with `standardwebhooks` and X-Webhook-Signature. */
  secret?: string;
  verifySample?: number;
}

export interface BenchReceiver {
  url: string;
  arrivals: Arrival[];
  /** distinct webhook-ids seen */
  unique: Set<string>;
  /** requests whose webhook-id had been seen before */
  duplicates: number;
  /** TCP connections accepted: with keep-alive, about the sender's pool size, not the request count */
  connections: number;
  verified: number;
  verifyFailures: string[];
  /** the first request as received, to replay its size and headers in a baseline */
  firstRequest: { headers: IncomingHttpHeaders; body: string } | undefined;
  /** Resolves once `predicate()` holds, checked on every arrival; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A webhook consumer on 127.0.0.1 that does as little as a real one could (read, parse, record,
 * answer 200) so that it never is the bottleneck it is supposed to measure. Signature checks are
 * done on a sample only; the test suite verifies every delivery.
 */
export async function startReceiver(options: ReceiverOptions = {}): Promise<BenchReceiver> {
  const sample = options.verifySample ?? 20;
  const waiters = new Set<() => void>();
  const state: Omit<BenchReceiver, 'url' | 'waitFor' | 'close'> = {
    arrivals: [],
    unique: new Set(),
    duplicates: 0,
    connections: 0,
    verified: 0,
    verifyFailures: [],
    firstRequest: undefined,
  };

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const at = Date.now();
      const body = Buffer.concat(chunks).toString('utf8');
      const webhookId = header(request.headers, 'webhook-id') ?? '';
      let event: string | undefined;
      let machineId: number | undefined;
      try {
        const json = JSON.parse(body) as { event?: string; machine?: { id?: number } };
        event = json.event;
        machineId = json.machine?.id;
      } catch {
        // Not JSON: recorded with no event, which the benchmark counts as a miss.
      }
      if (!state.firstRequest) state.firstRequest = { headers: request.headers, body };
      if (options.secret && state.arrivals.length < sample) check(options.secret, body, request.headers);
      if (state.unique.has(webhookId)) state.duplicates++;
      else state.unique.add(webhookId);
      state.arrivals.push({ at, webhookId, event, machineId });
      response.writeHead(200, { 'content-length': '0' });
      response.end();
      for (const waiter of [...waiters]) waiter();
    });
  });
  server.on('connection', () => state.connections++);
  server.keepAliveTimeout = 30_000;

  function check(secret: string, body: string, headers: IncomingHttpHeaders): void {
    const errors: string[] = [];
    const librarySecret = secret.startsWith('whsec_') ? secret : Buffer.from(secret, 'utf8').toString('base64');
    try {
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') flat[k] = v;
      new Webhook(librarySecret).verify(body, flat);
    } catch (error) {
      errors.push(`standardwebhooks: ${(error as Error).message}`);
    }
    const expected = `sha256=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(body, 'utf8').digest('hex')}`;
    if (header(headers, 'x-webhook-signature') !== expected) errors.push('X-Webhook-Signature mismatch');
    if (errors.length === 0) state.verified++;
    else state.verifyFailures.push(errors.join('; '));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/webhook`,
    waitFor(predicate: () => boolean, timeoutMs: number) {
      return new Promise<void>((resolve, reject) => {
        if (predicate()) return resolve();
        const waiter = () => {
          if (!predicate()) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`receiver: condition not met within ${timeoutMs} ms (${state.arrivals.length} requests, ${state.unique.size} distinct ids)`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  });
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

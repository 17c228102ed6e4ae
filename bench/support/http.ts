import { request } from 'undici';
import { sleep } from './stats';

export { freePort } from '../../test/support/net';

export interface JsonResponse {
  status: number;
  body: unknown;
}

/** One HTTP call with an optional JSON body; answers the status and the parsed body (or the text). */
export async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, options: { bearer?: string; json?: unknown } = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = {};
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const response = await request(url, { method, headers, body: options.json === undefined ? undefined : JSON.stringify(options.json) });
  const text = await response.body.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON: keep the text for the error message.
  }
  return { status: response.statusCode, body };
}

/** Polls `url` until it answers 200 or `timeoutMs` passes. */
export async function waitForHttp200(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const { status } = await call('GET', url);
      if (status === 200) return;
      last = `status ${status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${last})`);
}

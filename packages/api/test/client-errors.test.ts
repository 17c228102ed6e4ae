import { rawClient, startTestApi, type TestApi } from './support/harness';

/** Requests Node itself cannot parse never reach a route: they still answer {error, code} and the socket closes. */
describe('HTTP parse errors', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(() => api.dispose());

  async function send(bytes: string) {
    const client = rawClient(api.url);
    await client.connected;
    client.socket.write(bytes);
    // The server closes the socket; the client never does.
    await client.closed;
    const text = client.received();
    const [head, body] = text.split('\r\n\r\n');
    return { head, status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]), body: JSON.parse(body) };
  }

  it.each([
    ['a garbage request line', 'GARBAGE\r\n\r\n', 400, 'http.bad_request'],
    ['Content-Length together with chunked', 'POST /agent/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'http.bad_request'],
    ['a header without a colon', 'GET /health HTTP/1.1\r\nHost: x\r\nbroken header\r\n\r\n', 400, 'http.bad_request'],
    ['headers over the limit', `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`, 431, 'http.headers_too_large'],
  ])('%s: {error, code} with its status, then the socket is closed', async (_name, bytes, status, code) => {
    const answer = await send(bytes);
    expect(answer.status).toBe(status);
    expect(answer.head.toLowerCase()).toContain('content-type: application/json');
    expect(answer.head.toLowerCase()).toContain('connection: close');
    expect(answer.body).toEqual({ error: expect.any(String), code });
  });

  it('still serves well-formed requests afterwards', async () => {
    const ok = await send('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(ok.status).toBe(200);
  });
});

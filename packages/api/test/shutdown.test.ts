import { startWebhookReceiver, type WebhookReceiver } from '../../../test/support/webhook-receiver';
import { call, newUser, startTestApi, type TestApi } from './support/harness';

describe('graceful stop', () => {
  let api: TestApi;
  let receiver: WebhookReceiver | undefined;
  let release: () => void = () => {};

  afterEach(async () => {
    release();
    await receiver?.close();
    await api.dispose();
  });

  it('lets an in-flight request finish before the server closes', async () => {
    api = await startTestApi({ allowHttp: true, allowPrivate: true });
    const alice = await newUser(api, 'alice@example.com');
    const gate = new Promise<void>((resolve) => (release = resolve));
    let arrived: () => void = () => {};
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    receiver = await startWebhookReceiver({
      secret: 'irrelevant-for-this-test',
      respond: async () => {
        arrived();
        await gate;
        return undefined;
      },
    });
    const created = await call(api.url, 'POST', '/notifications/webhooks', { auth: alice.token, json: { url: receiver.url } });
    const inFlight = call(api.url, 'POST', `/notifications/webhooks/${created.body.id}/test`, { auth: alice.token });
    await arrival;

    let stopped = false;
    const stopping = api.stop().then(() => (stopped = true));
    // Still running: the test send has not been answered.
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release();
    const answer = await inFlight;
    await stopping;
    expect(answer.status).toBe(200);
    await expect(fetch(`${api.url}/health`)).rejects.toThrow();
  });
});

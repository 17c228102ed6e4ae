import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { join } from 'node:path';
import { createTelegramSender, createWebhookSender, type SendResult } from '@lunasentri/shared';
import { closeAfterEach } from '../../../test/support/cleanup';
import { startFakeTelegram } from '../../../test/support/fake-telegram';
import { startWebhookReceiver } from '../../../test/support/webhook-receiver';

/*
 * The dispatcher hands its one shutdown signal to every send it starts (20 at once under load). Node
 * warns about a possible leak as soon as an EventTarget holds more than 10 listeners of one kind, so a
 * listener per send on that signal printed `MaxListenersExceededWarning … 11 abort listeners added
 * to [AbortSignal]` during every burst.
 */

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const TOKEN = '123456:test-token-for-the-fake-bot-api-000';
const CONCURRENT = 40;

/** A gate the fake servers wait on, so every send is in flight at the same moment. */
function gate(): { wait: () => Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { wait: () => opened, open };
}

const abortListeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

describe('many sends in flight with one shared abort signal', () => {
  const track = closeAfterEach();

  test('webhook sends keep at most one listener on it while in flight and none after', async () => {
    const released = gate();
    const allArrived = gate();
    let arrived = 0;
    const receiver = track(
      await startWebhookReceiver({
        secret: SECRET,
        respond: async () => {
          if (++arrived === CONCURRENT) allArrived.open();
          await released.wait();
          return undefined;
        },
      }),
    );
    const sender = track(createWebhookSender({ allowHttp: true, allowPrivate: true, connections: CONCURRENT }));
    const shutdown = new AbortController();

    const sends = Array.from({ length: CONCURRENT }, (_, i) => sender.send({ url: receiver.url, secret: SECRET }, `evt_${i}`, '{}', shutdown.signal));
    await allArrived.wait();
    const inFlight = abortListeners(shutdown.signal);
    released.open();
    const results = await Promise.all(sends);

    expect(results.every((r) => r.kind === 'delivered')).toBe(true);
    expect(inFlight).toBeLessThanOrEqual(1);
    expect(abortListeners(shutdown.signal)).toBe(0);
  });

  test('Telegram sends do the same, and aborting the shared signal still ends every send in flight', async () => {
    const telegram = track(await startFakeTelegram({ token: TOKEN, respond: () => 'hang' }));
    const sender = track(createTelegramSender({ token: TOKEN, apiRoot: telegram.apiRoot, timeoutMs: 30_000 }));
    const shutdown = new AbortController();

    const sends: Array<Promise<SendResult>> = Array.from({ length: CONCURRENT }, (_, i) => sender.sendMessage(1000 + i, 'hello', shutdown.signal));
    await telegram.waitFor((all) => all.length >= 8, 10_000); // the sender's 8 connections are all busy
    const inFlight = abortListeners(shutdown.signal);
    shutdown.abort();
    const results = await Promise.all(sends);

    expect(results).toEqual(Array.from({ length: CONCURRENT }, () => ({ kind: 'retryable', error: 'aborted' })));
    expect(inFlight).toBeLessThanOrEqual(1);
    expect(abortListeners(shutdown.signal)).toBe(0);
  });

  // Jest's sandboxed `process` never hears the warnings Node emits: the real process, with the built
  // notifier (`tsc -b` first), is where an operator saw them.
  test('the built notifier under a burst: no MaxListenersExceededWarning reaches the process', async () => {
    const script = `
      const http = require('node:http');
      const { getEventListeners } = require('node:events');
      const { createWebhookSender } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))});
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.name + ': ' + w.message));
      const waiting = [];
      const server = http.createServer((req, res) => {
        req.resume();
        waiting.push(res);
        if (waiting.length === ${CONCURRENT}) for (const r of waiting) r.end('{}');
      });
      server.listen(0, '127.0.0.1', async () => {
        const url = 'http://127.0.0.1:' + server.address().port + '/hook';
        const sender = createWebhookSender({ allowHttp: true, allowPrivate: true, connections: ${CONCURRENT} });
        const shutdown = new AbortController();
        const sends = [];
        for (let i = 0; i < ${CONCURRENT}; i++) sends.push(sender.send({ url, secret: ${JSON.stringify(SECRET)} }, 'evt_' + i, '{}', shutdown.signal));
        const results = await Promise.all(sends);
        await sender.close();
        server.close();
        setImmediate(() => process.stdout.write(JSON.stringify({ warnings, listeners: getEventListeners(shutdown.signal, 'abort').length, kinds: [...new Set(results.map((r) => r.kind))] })));
      });`;
    const child = spawn(process.execPath, ['-e', script]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({ warnings: [], listeners: 0, kinds: ['delivered'] });
  });
});

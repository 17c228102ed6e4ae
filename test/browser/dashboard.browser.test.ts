import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { describeEachEngine } from '../support/engines';
import { insertMachine } from '../support/fixtures';
import { call, newUser, startTestApi, type TestApi } from '../../packages/api/test/support/harness';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(__dirname, '..', '..', 'test-output', 'browser');
/** The flags that keep Debian's Chromium from reaching out at every start (see TOOLCHAIN.md). */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

if (!existsSync(CHROMIUM) && process.env.CI === 'true') {
  test('Chromium is required under CI', () => {
    throw new Error(`browser tests need Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  });
} else if (!existsSync(CHROMIUM)) {
  process.stdout.write(`Browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)\n`);
  test.skip('dashboard in a real browser (no Chromium on this machine)', () => undefined);
} else {
  describeEachEngine('the dashboard in Chromium', (engine) => {
    let browser: Browser;
    let api: TestApi;
    let token: string;

    beforeAll(async () => {
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      mkdirSync(SCREENSHOTS, { recursive: true });
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
    });
    beforeEach(async () => {
      api = await startTestApi({ engine });
      const alice = await newUser(api, 'alice@example.com');
      token = alice.token;
      // The browser judges cookie expiry by the real clock: the API's starts there too (and never moves by itself).
      const nowMs = api.clock.set(Date.now()).getTime();
      const before = (ms: number) => new Date(nowMs - ms).toISOString();
      const now = before(0);
      await insertMachine(api.db.db, alice.id, { name: 'production-server-with-a-rather-long-name-01', status: 'online', last_seen: now, status_changed_at: now });
      const down = await insertMachine(api.db.db, alice.id, { name: '<script>alert(1)</script>', status: 'offline', last_seen: before(10 * 60_000), status_changed_at: before(8 * 60_000) });
      await api.db.db.insertInto('outage_history').values({ machine_id: down, kind: 'outage', started_at: before(8 * 60_000), ended_at: null }).execute();
      await api.db.db.updateTable('machines').set({ created_at: before(60 * 24 * 3600_000) }).execute();
    });
    afterEach(() => api.dispose());

    /** A page that records every console error and uncaught error (a CSP violation is one). */
    async function openPage(width: number): Promise<{ page: Page; errors: string[] }> {
      const context = await browser.newContext({ viewport: { width, height: 800 }, javaScriptEnabled: false });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      return { page, errors };
    }

    // A string, evaluated in the page: the tests compile without the DOM's types.
    const horizontalOverflow = (page: Page) => page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');

    test('signs in without JavaScript, reads at 375 px with no horizontal overflow, escapes names, signs out', async () => {
      for (const width of [375, 1280]) {
        const { page, errors } = await openPage(width);
        await page.goto(api.url);
        await page.fill('#token', token);
        await page.click('button[type=submit]');
        await page.waitForSelector('#machines');
        expect(await page.locator('.machine h2').allTextContents()).toEqual(['production-server-with-a-rather-long-name-01', '<script>alert(1)</script>']);
        expect(await page.locator('.machine .bars').first().locator('li').count()).toBe(90);
        await page.screenshot({ path: join(SCREENSHOTS, `dashboard-${engine}-${width}.png`), fullPage: true });
        expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
        await page.click('text=Sign out');
        await page.waitForSelector('#token');
        expect(errors).toEqual([]);
        await page.context().close();
      }
    });

    /** What the daemon writes when it declares a machine offline or back: the status, and the outage history. */
    async function daemonDeclares(machineId: number, status: 'offline' | 'online') {
      const now = api.clock.now().toISOString();
      await api.db.db.updateTable('machines').set({ status, status_changed_at: now, ...(status === 'online' ? { last_seen: now } : {}) }).where('id', '=', machineId).execute();
      if (status === 'offline') await api.db.db.insertInto('outage_history').values({ machine_id: machineId, kind: 'outage', started_at: now, ended_at: null }).execute();
      else await api.db.db.updateTable('outage_history').set({ ended_at: now }).where('machine_id', '=', machineId).where('ended_at', 'is', null).execute();
    }

    test('sees a machine go offline and come back, snoozes and unsnoozes it, signs out; at 1280 and 375 px', async () => {
      const machine = (await api.db.db.selectFrom('machines').select('id').orderBy('id').executeTakeFirstOrThrow()).id;
      for (const width of [1280, 375]) {
        const { page, errors } = await openPage(width);
        await page.goto(api.url);
        await page.fill('#token', token);
        await page.click('button[type=submit]');
        const card = page.locator(`#machine-${machine}`);
        expect(await card.locator('.status').textContent()).toBe('online');

        api.clock.advance(60_000);
        await daemonDeclares(machine, 'offline');
        await page.reload();
        expect(await card.locator('.status').textContent()).toBe('offline');
        await page.screenshot({ path: join(SCREENSHOTS, `dashboard-offline-${engine}-${width}.png`), fullPage: true });

        await card.locator('button[value="1h"]').click();
        await page.waitForURL(`**/#machine-${machine}`);
        expect(await card.locator('.snooze .tag').textContent()).toBe('snoozed');
        expect(await page.locator('.snoozes li').count()).toBe(1);
        expect((await api.db.db.selectFrom('machines').select('snoozed_until').where('id', '=', machine).executeTakeFirstOrThrow()).snoozed_until).toBe(
          new Date(api.clock.now().getTime() + 3600_000).toISOString(),
        );
        await page.screenshot({ path: join(SCREENSHOTS, `dashboard-snoozed-${engine}-${width}.png`), fullPage: true });

        api.clock.advance(60_000);
        await daemonDeclares(machine, 'online');
        await card.locator('button', { hasText: 'Unsnooze' }).click();
        await page.waitForSelector(`#machine-${machine} button[value="next-online"]`);
        expect(await card.locator('.status').textContent()).toBe('online');
        expect(await page.locator('.snoozes li').count()).toBe(0);
        // The outage shows in today's bar: under 100 % but still there.
        expect(await card.locator('.bars li').last().getAttribute('class')).not.toBe('b-full');
        expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);

        await page.click('text=Sign out');
        await page.waitForSelector('#token');
        expect(errors).toEqual([]);
        await page.context().close();
        await api.db.db.updateTable('machines').set({ snoozed_until: null, quiet_due_at: null }).execute();
      }
    });

    test('the public status page reads at 375 and 1280 px with no horizontal overflow and no console errors', async () => {
      const published = await call(api.url, 'PUT', '/status-page', { auth: token, json: { enabled: true, title: 'Acme status', show_hostnames: true } });
      const { page, errors } = await openPage(375);
      const answer = await page.goto(`${api.url}${published.body.path as string}`);
      expect(answer?.status()).toBe(200);
      expect(await page.locator('.machine h2').allTextContents()).toEqual(['production-server-with-a-rather-long-name-01', '<script>alert(1)</script>']);
      await page.screenshot({ path: join(SCREENSHOTS, `status-page-${engine}-375.png`), fullPage: true });
      expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
      expect(errors).toEqual([]);
      await page.context().close();
      const wide = await openPage(1280);
      await wide.page.goto(`${api.url}${published.body.path as string}`);
      expect(await wide.page.locator('.machine .status').allTextContents()).toHaveLength(2);
      await wide.page.screenshot({ path: join(SCREENSHOTS, `status-page-${engine}-1280.png`), fullPage: true });
      expect(wide.errors).toEqual([]);
      await wide.page.context().close();
    });
  });
}

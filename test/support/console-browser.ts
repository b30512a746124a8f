import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PROJECT_ROOT, waitFor } from './processes';

/** Debian's chromium (CI installs it); playwright-core never downloads a browser of its own. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** `npm run console:screenshots` sets this: the run also writes the docs' screenshots into docs/. */
export const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS === '1';

/**
 * A new page of the console's size, not signed in: every dialog it opens is dismissed and its text
 * kept in `dialogs`, every page error and console error kept in `errors`, for the test to check.
 */
export async function openPage(browser: Browser, record: { dialogs: string[]; errors: string[] }, timezoneId?: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, ...(timezoneId ? { timezoneId } : {}) });
  page.setDefaultTimeout(60_000);
  page.on('dialog', (dialog) => {
    record.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => record.errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') record.errors.push(message.text());
  });
  return page;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // Root in a container: no sandbox; a small /dev/shm: keep shared memory on disk.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/**
 * Reads the console's page through locators, so no code typed against the DOM runs in the
 * browser; `untilText` waits for a value the page refreshes by itself.
 */
export function pageReader(page: Page) {
  const text = (selector: string) => page.locator(selector).first().textContent({ timeout: 30_000 });
  const texts = (selector: string) => page.locator(selector).allTextContents();
  const count = (selector: string) => page.locator(selector).count();
  // A short timeout: a table re-rendered since `all()` has fewer rows, and a missing row must fail fast, not wait.
  const attributes = async (selector: string, name: string) =>
    Promise.all((await page.locator(selector).all()).map(async (node) => (await node.getAttribute(name, { timeout: 5000 })) ?? ''));
  const untilText = async (selector: string, check: (value: string) => boolean, timeoutMs = 45_000) => {
    let last: string | null = null;
    try {
      return await waitFor(
        `${selector} to show the expected text`,
        async () => {
          last = await page
            .locator(selector)
            .first()
            .textContent({ timeout: 1000 })
            .catch(() => null);
          return last !== null && check(last) ? last : undefined;
        },
        timeoutMs,
      );
    } catch (error) {
      throw new Error(`${String(error)}; it showed ${JSON.stringify(last)}`, { cause: error });
    }
  };
  return { text, texts, count, attributes, untilText };
}

/** Writes docs/console-<name>.png in the screenshots' run; nothing otherwise. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(join(PROJECT_ROOT, 'docs'), { recursive: true });
  await page.screenshot({ path: join(PROJECT_ROOT, 'docs', `console-${name}.png`), fullPage: true });
}

/** Leaves a failed test's page in tmp/, to look at. */
export async function keepFailedPage(page: Page, testName: string): Promise<void> {
  mkdirSync(join(PROJECT_ROOT, 'tmp'), { recursive: true });
  await page.screenshot({ path: join(PROJECT_ROOT, 'tmp', `console-failed-${testName.slice(0, 40)}.png`), fullPage: true });
}

export async function signInToConsole(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(`${baseUrl}/ops`);
  await page.fill('#operator-key', key);
  await page.click('#sign-in-form button[type="submit"]');
  await page.waitForSelector('#overview', { state: 'visible' });
}

import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium } from 'playwright-core';

// Debian's Chromium, never a downloaded browser build (.ci/run installs the package when missing).
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where browser tests leave their screenshots (git ignores it). */
export const SHOTS = 'test-results';

/**
 * A page in headless Chromium, closed after the test, and the errors it reports (console errors and
 * uncaught exceptions), for a test to assert on — a CSP violation among them.
 */
export async function openPage(t: TestContext) {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  // A page of inkgate opens no dialog (they need script, which no page has): any is a finding.
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  mkdirSync(SHOTS, { recursive: true });
  return { page, problems, dialogs };
}

/**
 * The reported problems but Chromium's note of a 4xx answer (a page the test opens on purpose and
 * whose status it asserts): script errors, CSP reports, failed loads of anything else.
 */
export const unexpectedProblems = (problems: readonly string[]) =>
  problems.filter(
    (text) => !/^Failed to load resource: the server responded with a status of 4\d\d\b/.test(text),
  );

/** The reported problems that are Content Security Policy violations. */
export const cspViolations = (problems: readonly string[]) =>
  problems.filter((text) => /Content Security Policy|Refused/.test(text));

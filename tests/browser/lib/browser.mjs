// Browser harness: Debian's chromium driven by playwright-core, headless, against the real binary
// (started through the black-box harness, so in the mode FLASHSALE_MODE names).
//
// One browser per test file (launching one costs seconds on a busy machine); every test opens its
// own contexts, which share nothing (storage, cookies, cache), so two contexts are two buyers.
// Every page is watched: an uncaught error, a console error or a Content-Security-Policy violation
// fails the test at its end (assertClean), because a page that throws may still look right.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { MODE_NAME } from '../../blackbox/lib/harness.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const CHROMIUM = process.env.FLASHSALE_CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

// Where each run leaves its screenshots: one directory per mode.
export const SCREENSHOT_DIR = path.resolve(process.env.FLASHSALE_SCREENSHOT_DIR || path.join(repoRoot, 'build', 'screenshots'), MODE_NAME);

export const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 800 },
};

// Generous: the suite runs on a two-core machine next to other builds.
export const UI_TIMEOUT_MS = 20_000;

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 120_000 });
}

/**
 * A fresh context (a buyer or an operator of their own) and a page in it, watched for errors.
 * options: viewport (default desktop), acceptDownloads.
 */
export async function openPage(browser, { viewport = VIEWPORTS.desktop, acceptDownloads = false } = {}) {
  const context = await browser.newContext({ viewport, acceptDownloads });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // A stream cut by a server restart is logged by Chromium itself; the page recovers (tested).
    if (/net::ERR_(INCOMPLETE_CHUNKED_ENCODING|CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE)/.test(text)) return;
    if (/Failed to load resource/.test(text) && page.allowFailedLoads) return;
    // The API's own "not found" that a page asks for on purpose: no purchase of this buyer yet, a
    // sale (?sku=) not announced yet. Chromium logs every 4xx as an error; these are answers.
    if (/status of 404/.test(text) && /\/api\/v1\/(purchases|sales)\?sku=/.test(msg.location()?.url ?? '')) return;
    problems.push(`console: ${text}`);
  });
  page.problems = problems;
  page.allowFailedLoads = false;
  return { context, page };
}

// Fails when the page threw, logged an error or broke its Content-Security-Policy.
export function assertClean(page) {
  assert.deepEqual(page.problems, [], `the page reported problems:\n${page.problems.join('\n')}`);
}

/** Saves a full-page screenshot as <dir>/<name>.png and returns its path. */
export async function screenshot(page, name) {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  // From the top; asked again until it holds: a smooth scroll the page started (to a panel it
  // focused) may still be under way.
  await page.waitForFunction(() => {
    window.scrollTo({ top: 0, left: 0, behavior: 'instant' });
    return window.scrollY === 0;
  });
  // Chromium draws a sticky element of a full-page capture where the viewport's edge would be, in
  // the middle of the picture: for the capture it is put in the flow (as it is at the top), then
  // back.
  const unstuck = await page.evaluate(() => {
    const elements = [...document.querySelectorAll('body *')].filter((e) => getComputedStyle(e).position === 'sticky');
    for (const e of elements) e.style.position = 'relative';
    return elements.length;
  });
  await page.screenshot({ path: file, fullPage: true });
  if (unstuck > 0) {
    await page.evaluate(() => {
      for (const e of document.querySelectorAll('body *')) if (e.style.position === 'relative') e.style.position = '';
    });
  }
  return file;
}

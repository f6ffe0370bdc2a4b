// The storefront in a real browser (Debian's chromium, headless, through playwright-core) against
// the real binary, in the mode FLASHSALE_MODE names: the buyer page and the operator page as
// people use them, with every change arriving without a reload. Each run also leaves screenshots
// of the key states (one screen each) at phone and desktop width in SCREENSHOT_DIR
// (build/screenshots/<mode>/), and checks that no page scrolls sideways at either width.
//
// The pages are looked at the way a person does — labels, button names, the words shown — and,
// where words would be brittle, through the states the pages expose as data attributes:
// #sale[data-state] (UPCOMING, ACTIVE, SOLD_OUT, ...), #result[data-outcome] (success,
// already-purchased, sold-out, ...) and #conn[data-mode] (live, polling, ...).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, uniqueSku, uniqueUser, isoIn } from '../blackbox/lib/harness.mjs';
import { launchBrowser, openPage, assertClean, assertFitsWidth, screenshot, VIEWPORTS, UI_TIMEOUT_MS } from './lib/browser.mjs';


let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The buyer page of one sale, once it shows the sale; name fills the buyer's name field. */
async function buyerPage(sku, { viewport = VIEWPORTS.desktop, name } = {}) {
  const { context, page } = await openPage(browser, { viewport });
  await page.goto(`${server.url}/?sku=${encodeURIComponent(sku)}`);
  await page.locator('#sale:not([data-state="LOADING"])').waitFor();
  if (name !== undefined) await page.getByLabel('Your name').fill(name);
  return { context, page };
}

function saleState(page) {
  return page.locator('#sale').getAttribute('data-state');
}

async function waitForState(page, state, timeout = UI_TIMEOUT_MS) {
  await page.locator(`#sale[data-state="${state}"]`).waitFor({ timeout });
}

async function stockShown(page) {
  return Number((await page.locator('#stock-count').textContent()).replace(/[^\d]/g, ''));
}

async function waitForStock(page, stock) {
  await page.waitForFunction((n) => Number(document.getElementById('stock-count')?.textContent.replace(/[^\d]/g, '')) === n, stock, { timeout: UI_TIMEOUT_MS });
}

async function clickBuy(page) {
  await page.getByRole('button', { name: /buy now/i }).click();
}

async function waitForOutcome(page, outcome) {
  await page.locator(`#result[data-outcome="${outcome}"]`).waitFor();
  return page.locator('#result').innerText();
}

// Counts the main frame's navigations after the first load: a reload would add one.
function countNavigations(page) {
  const counter = { reloads: 0 };
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) counter.reloads += 1;
  });
  return counter;
}

test('the countdown turns into an open sale without a reload', async () => {
  // Near enough to wait for, far enough to load the page first; a busy machine that took longer
  // gets a sale starting later.
  let context;
  let page;
  let startsAt;
  for (let leadMs = 8000; ; leadMs *= 2) {
    startsAt = Date.now() + leadMs;
    const sale = await server.createSale({ productName: 'Countdown widget', initialStock: 3, startTime: new Date(startsAt).toISOString() });
    ({ context, page } = await buyerPage(sale.sku, { name: uniqueUser('early') }));
    if ((await saleState(page)) === 'UPCOMING' && Date.now() < startsAt - 2000) break;
    await context.close();
    assert.ok(leadMs < 64_000, 'the page never loaded before the sale started');
  }
  const navigations = countNavigations(page);
  try {
    assert.match(await page.locator('#countdown-label').innerText(), /start/i);
    assert.equal(await page.locator('#buy').getAttribute('aria-disabled'), 'true');
    await waitForState(page, 'ACTIVE', startsAt - Date.now() + UI_TIMEOUT_MS);
    assert.ok(Date.now() >= startsAt - 1500, 'the sale opened on the page before its start time');
    assert.match(await page.locator('#countdown-label').innerText(), /end/i);
    assert.equal(await page.locator('#buy').getAttribute('aria-disabled'), 'false');
    assert.equal(navigations.reloads, 0, 'the page reloaded');
    await clickBuy(page);
    await waitForOutcome(page, 'success');
    assertClean(page);
  } finally {
    await context.close();
  }
});

test('a purchase succeeds and a second one says already purchased', async () => {
  const sale = await server.createSale({ productName: 'Once per buyer', initialStock: 5 });
  const buyer = uniqueUser('once');
  const first = await buyerPage(sale.sku, { name: buyer });
  const second = await buyerPage(sale.sku);
  try {
    await clickBuy(first.page);
    const text = await waitForOutcome(first.page, 'success');
    const mine = (await server.api('GET', `/api/v1/purchases?sku=${sale.sku}`, { userId: buyer })).json.data;
    assert.ok(text.includes(mine.purchaseNo), `the order number ${mine.purchaseNo} is shown: ${text}`);
    await waitForStock(first.page, 4);

    // The same buyer again, from another browser, with the keyboard: Enter in the name field buys.
    // The page may know before the answer (it looks the buyer's purchase up once the name is in);
    // either way it must say so.
    await second.page.getByLabel('Your name').fill(buyer);
    await second.page.getByLabel('Your name').press('Enter');
    const again = await waitForOutcome(second.page, 'already-purchased');
    assert.match(again, /already/i);
    assert.ok(again.includes(mine.purchaseNo), `the original order number is shown: ${again}`);
    assert.equal((await server.product(sale.sku)).totalPurchases, 1);
    assertClean(first.page);
    assertClean(second.page);
  } finally {
    await first.context.close();
    await second.context.close();
  }
});

test('Buy pressed while the page still loads is answered and placed, never a reload', async () => {
  const sale = await server.createSale({ productName: 'Pressed early', initialStock: 4 });
  const buyer = uniqueUser('early-press');
  const { context, page } = await openPage(browser);
  // A returning buyer: the name is remembered. The page is held before it knows the identity
  // mode (GET /api/v1/info), the last thing it loads.
  await context.addInitScript((name) => localStorage.setItem('flashsale.buyerName', name), buyer);
  let releaseInfo;
  const infoHeld = new Promise((resolve) => {
    releaseInfo = resolve;
  });
  await page.route('**/api/v1/info', async (route) => {
    await infoHeld;
    await route.continue();
  });
  try {
    await page.goto(`${server.url}/?sku=${encodeURIComponent(sale.sku)}`);
    await waitForState(page, 'ACTIVE');
    const navigations = countNavigations(page);
    const button = page.locator('#buy');
    assert.equal(await button.getAttribute('data-state'), 'loading');
    assert.match(await button.innerText(), /loading/i);
    // aria-disabled, so a click is forced past playwright's wait for an enabled button, as a
    // person's tap would be
    await button.click({ force: true });
    assert.match(await waitForOutcome(page, 'queued'), /loading/i);
    await button.press('Enter');
    releaseInfo();
    const text = await waitForOutcome(page, 'success');
    const mine = (await server.api('GET', `/api/v1/purchases?sku=${sale.sku}`, { userId: buyer })).json.data;
    assert.ok(text.includes(mine.purchaseNo), `the queued press placed the order: ${text}`);
    assert.equal((await server.product(sale.sku)).totalPurchases, 1, 'two presses while loading are one order');
    assert.equal(navigations.reloads, 0, 'the page reloaded');
    assertClean(page);
  } finally {
    await context.close();
  }
});

test("the buyer's own purchase lowers the stock at once; the stream's count then wins", async () => {
  const sale = await server.createSale({ productName: 'Mine counts', initialStock: 5 });
  const { context, page } = await openPage(browser);
  // The event stream is held, so only the purchase's answer can move the count.
  let stream = null;
  await page.route('**/api/v1/sales/events**', (route) => {
    stream = route;
  });
  try {
    await page.goto(`${server.url}/?sku=${encodeURIComponent(sale.sku)}`);
    await waitForState(page, 'ACTIVE');
    await page.getByLabel('Your name').fill(uniqueUser('own'));
    assert.equal(await stockShown(page), 5);
    await clickBuy(page);
    await waitForOutcome(page, 'success');
    assert.equal(await stockShown(page), 4, 'the own unit is gone from the count with the answer');
    assert.ok(stream, 'the page opened its event stream');
    // The stream's `initial` says 4 as well: the unit is not taken twice.
    await stream.continue();
    await page.locator('#conn[data-mode="live"]').waitFor();
    assert.equal(await stockShown(page), 4);
    assert.equal((await server.purchase(sale.sku, uniqueUser('other'))).json.success, true);
    await waitForStock(page, 3);
    assertClean(page);
  } finally {
    await context.close();
  }
});

test('a second browser sees the stock drop, and "sold out" when another buyer takes the last unit', async () => {
  const sale = await server.createSale({ productName: 'Two left', initialStock: 2 });
  const buyer = await buyerPage(sale.sku, { name: uniqueUser('a') });
  const watcher = await buyerPage(sale.sku);
  try {
    await watcher.page.locator('#conn[data-mode="live"]').waitFor();
    assert.equal(await stockShown(watcher.page), 2);
    const navigations = countNavigations(watcher.page);

    await clickBuy(buyer.page);
    await waitForOutcome(buyer.page, 'success');
    await waitForStock(watcher.page, 1);

    // the last unit goes to someone else entirely
    assert.equal((await server.purchase(sale.sku, uniqueUser('last'))).json.success, true);
    await waitForStock(watcher.page, 0);
    await waitForState(watcher.page, 'SOLD_OUT');
    assert.match(await watcher.page.locator('#sale').innerText(), /sold out/i);
    assert.equal(await watcher.page.locator('#buy').getAttribute('aria-disabled'), 'true');
    assert.equal(navigations.reloads, 0);
    assertClean(buyer.page);
    assertClean(watcher.page);
  } finally {
    await buyer.context.close();
    await watcher.context.close();
  }
});

/** The operator page, unlocked with the admin key. */
async function adminPage({ viewport = VIEWPORTS.desktop, downloads = false } = {}) {
  const { context, page } = await openPage(browser, { viewport, acceptDownloads: downloads });
  await page.goto(`${server.url}/admin`);
  await page.getByLabel('Admin key').fill(server.adminKey);
  await page.getByRole('button', { name: 'Unlock' }).click();
  await page.locator('#app:not([hidden])').waitFor();
  return { context, page };
}

test('a sale created in the admin page appears live on the buyer page', async () => {
  const sku = uniqueSku('NEW');
  // the buyer waits on a sale that does not exist yet
  const buyer = await buyerPage(sku);
  const admin = await adminPage();
  try {
    assert.equal(await saleState(buyer.page), 'MISSING');
    await buyer.page.locator('#conn[data-mode="live"]').waitFor();
    const navigations = countNavigations(buyer.page);

    await admin.page.getByRole('button', { name: 'New sale' }).first().click();
    const dialog = admin.page.getByRole('dialog');
    await dialog.getByLabel('SKU').fill(sku);
    await dialog.getByLabel('Product name').fill('Made in the admin page');
    await dialog.getByLabel('Stock').fill('7');
    await dialog.getByRole('button', { name: 'Now' }).click();
    await dialog.getByRole('button', { name: 'Create sale' }).click();
    await admin.page.locator(`tr[data-sku="${sku}"]`).waitFor();

    await waitForState(buyer.page, 'ACTIVE');
    assert.equal(await buyer.page.locator('#product-name').innerText(), 'Made in the admin page');
    assert.equal(await stockShown(buyer.page), 7);
    assert.equal(navigations.reloads, 0);
    assertClean(buyer.page);
    assertClean(admin.page);
  } finally {
    await buyer.context.close();
    await admin.context.close();
  }
});

test('a delete retried after a lost answer never removes a newer sale of the same sku', async () => {
  const first = await server.createSale({ productName: 'Deleted once', initialStock: 3 });
  const admin = await adminPage();
  const deletes = [];
  // The first delete reaches the server and is done, but its answer is lost on the way back.
  await admin.page.route(`**/api/v1/products/${first.sku}*`, async (route) => {
    if (route.request().method() !== 'DELETE') return route.continue();
    deletes.push(route.request().url());
    if (deletes.length === 1) {
      await route.fetch();
      return route.abort('connectionreset');
    }
    return route.continue();
  });
  admin.page.allowFailedLoads = true; // the lost answer, on purpose
  try {
    await admin.page.getByRole('button', { name: `Delete ${first.sku}` }).click();
    const dialog = admin.page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await admin.page.locator('#delete-error').filter({ hasText: /try again/i }).waitFor();
    // Meanwhile someone creates the sku again.
    const second = await server.createSale({ sku: first.sku, productName: 'Created again', initialStock: 5 });
    assert.notEqual(second.saleId, first.saleId);
    // The operator retries: the dialog was about the first sale, and only that one may go.
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(deletes.length, 2);
    for (const url of deletes) assert.equal(new URL(url).searchParams.get('saleId'), String(first.saleId));
    const survivor = await server.product(first.sku);
    assert.equal(survivor.saleId, second.saleId, 'the newer sale is still there');
    await admin.page.locator(`tr[data-sku="${first.sku}"]`).filter({ hasText: 'Created again' }).waitFor();
    assertClean(admin.page);
  } finally {
    await admin.context.close();
  }
});

test('the orders panel counts stored and sold orders of one moment, whatever the periodic count says', async () => {
  const sale = await server.createSale({ productName: 'Counted', initialStock: 40 });
  for (let i = 0; i < 5; i++) assert.equal((await server.purchase(sale.sku, uniqueUser('count'))).json.success, true);
  const admin = await adminPage();
  try {
    const row = admin.page.locator(`tr[data-sku="${sale.sku}"]`);
    await row.waitFor();
    // From now on the periodic read of the list (which carries persistedPurchases) gets no
    // answer, so the page's count of stored orders falls behind.
    await admin.page.route('**/api/v1/products', () => {});
    for (let i = 0; i < 4; i++) assert.equal((await server.purchase(sale.sku, uniqueUser('count'))).json.success, true);
    await admin.page.waitForFunction((sku) => document.querySelector(`tr[data-sku="${sku}"] [data-field="sold"]`)?.textContent.trim() === '9', sale.sku);
    await admin.page.getByRole('button', { name: `Orders of ${sale.sku}` }).click();
    const status = admin.page.locator('#orders-status');
    await status.filter({ hasText: /^Orders 1–/ }).waitFor();
    const text = await status.innerText();
    const [, first, last, stored] = (/Orders (\d+)–(\d+) of (\d+) stored/.exec(text) || []).map(Number);
    const sold = Number((/(\d+) sold/.exec(text) || [])[1]);
    assert.equal(first, 1, text);
    assert.equal(last, await admin.page.locator('#orders-body tr').count(), text);
    assert.ok(last <= stored, `no more orders listed than stored: ${text}`);
    assert.ok(stored <= sold && sold === 9, `stored never above sold, sold as the stream says: ${text}`);
    assertClean(admin.page);
  } finally {
    await admin.context.close();
  }
});

test('the CSV download of the admin page holds every order', async () => {
  const sale = await server.createSale({ productName: 'Exported', initialStock: 40 });
  const users = Array.from({ length: 25 }, () => uniqueUser('csv'));
  for (const u of users) assert.equal((await server.purchase(sale.sku, u)).json.success, true);
  const admin = await adminPage({ downloads: true });
  try {
    await admin.page.getByRole('button', { name: `Orders of ${sale.sku}` }).click();
    const [download] = await Promise.all([
      admin.page.waitForEvent('download'),
      admin.page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), `${sale.sku}-purchases.csv`);
    const text = await readFile(await download.path(), 'utf8');
    const lines = text.trimEnd().split('\r\n');
    assert.equal(lines[0], 'purchaseNo,sku,userId,purchasedAt');
    const listed = await server.allPurchases(sale.sku);
    assert.equal(lines.length - 1, users.length);
    assert.deepEqual(lines.slice(1).map((l) => l.split(',')[0]), listed.map((p) => p.purchaseNo));
    assert.deepEqual(new Set(lines.slice(1).map((l) => l.split(',')[2])), new Set(users));
    assertClean(admin.page);
  } finally {
    await admin.context.close();
  }
});

test('the stream reconnects after the server restarts', async () => {
  const sale = await server.createSale({ productName: 'Survives a restart', initialStock: 10 });
  const { context, page } = await buyerPage(sale.sku);
  page.allowFailedLoads = true; // requests while the server is down fail, by design
  try {
    await page.locator('#conn[data-mode="live"]').waitFor();
    const navigations = countNavigations(page);
    await server.restart({ samePort: true });
    // a change made after the restart reaches the page through the new stream
    assert.equal((await server.purchase(sale.sku, uniqueUser('after'))).json.success, true);
    await waitForStock(page, 9);
    await page.locator('#conn[data-mode="live"]').waitFor();
    assert.equal(navigations.reloads, 0);
    assertClean(page);
  } finally {
    await context.close();
  }
});

// The key states as a person sees them, one screen each (docs/screenshots, the README's table),
// at phone and desktop width; at each, no page may scroll sideways, also with the operator's
// dialog and orders open.
test('screenshots of the key states at phone and desktop width, and no page wider than the screen', async () => {
  const saved = [];
  const shoot = async (page, name, options) => saved.push(await screenshot(page, name, options));
  for (const [width, viewport] of Object.entries(VIEWPORTS)) {
    // upcoming: the countdown to the start, a day and more away
    const later = await server.createSale({
      productName: 'Limited Edition Widget', initialStock: 120,
      startTime: isoIn((27 * 60 + 14) * 60_000), endTime: isoIn(3 * 24 * 3_600_000),
    });
    const early = await buyerPage(later.sku, { viewport });
    await waitForState(early.page, 'UPCOMING');
    await assertFitsWidth(early.page, `the buyer page of an upcoming sale at ${width} width`);
    await shoot(early.page, `buyer-upcoming-${width}`);
    assertClean(early.page);
    await early.context.close();

    const sale = await server.createSale({ productName: 'Limited Edition Widget', initialStock: 120 });
    let sold = 0;
    // the operator watches while orders come in, so the live counters and the chart have something
    const admin = await adminPage({ viewport });
    for (let wave = 0; wave < 3; wave++) {
      for (let i = 0; i < 6 + 4 * wave; i++, sold++) await server.purchase(sale.sku, uniqueUser('shot'));
      await admin.page.waitForFunction(([cell, n]) => Number(document.querySelector(cell)?.textContent.replace(/[^\d]/g, '')) === n,
        [`tr[data-sku="${sale.sku}"] [data-field="sold"]`, sold]);
    }

    // live, then the buyer's order confirmed
    const { context, page } = await buyerPage(sale.sku, { viewport, name: 'Ada Lovelace' });
    await page.locator('#conn[data-mode="live"]').waitFor();
    await waitForStock(page, 120 - sold);
    await assertFitsWidth(page, `the buyer page of a live sale at ${width} width`);
    await shoot(page, `buyer-live-${width}`);
    await clickBuy(page);
    await waitForOutcome(page, 'success');
    sold += 1;
    await waitForStock(page, 120 - sold);
    await assertFitsWidth(page, `the buyer page with an order at ${width} width`);
    // the order confirmed with the sale it belongs to: from the sale's card (a phone: its stock)
    await shoot(page, `buyer-success-${width}`, { top: page.locator(width === 'phone' ? '#stock' : '#sale') });
    assertClean(page);
    await context.close();

    // sold out: another buyer takes the last unit while this one watches
    const last = await server.createSale({ productName: 'Limited Edition Widget', initialStock: 1 });
    const late = await buyerPage(last.sku, { viewport, name: 'Grace Hopper' });
    await late.page.locator('#conn[data-mode="live"]').waitFor();
    assert.equal((await server.purchase(last.sku, uniqueUser('first'))).json.success, true);
    await waitForState(late.page, 'SOLD_OUT');
    await assertFitsWidth(late.page, `the buyer page of a sold-out sale at ${width} width`);
    await shoot(late.page, `buyer-soldout-${width}`);
    assertClean(late.page);
    await late.context.close();

    // the operator: the counters, the chart and the sales; then the orders and the sale dialog
    await admin.page.locator(`tr[data-sku="${last.sku}"] [data-field="sold"]`).filter({ hasText: '1' }).waitFor();
    await assertFitsWidth(admin.page, `the operator page at ${width} width`);
    // a phone's screen holds the chart and the first sales below the counters
    await shoot(admin.page, `admin-${width}`, width === 'phone' ? { top: admin.page.locator('.chart-card') } : {});
    await admin.page.getByRole('button', { name: `Orders of ${sale.sku}` }).click();
    await admin.page.locator('#orders-body tr').nth(sold - 1).waitFor();
    await assertFitsWidth(admin.page, `the operator page with orders at ${width} width`);
    await admin.page.getByRole('button', { name: 'New sale' }).first().click();
    const dialog = admin.page.getByRole('dialog');
    await dialog.getByLabel('Product name').waitFor();
    await assertFitsWidth(admin.page, `the sale dialog at ${width} width`);
    assertClean(admin.page);
    await admin.context.close();

    const docs = await openPage(browser, { viewport });
    await docs.page.goto(`${server.url}/docs`);
    await docs.page.getByRole('heading', { name: 'flashsale API', level: 1 }).waitFor();
    await assertFitsWidth(docs.page, `the docs page at ${width} width`);
    await shoot(docs.page, `docs-${width}`);
    assertClean(docs.page);
    await docs.context.close();
  }
  for (const file of saved) assert.ok((await stat(file)).size > 10_000, `${file} looks empty`);
});

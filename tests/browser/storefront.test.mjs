// The storefront in a real browser (Debian's chromium, headless, through playwright-core) against
// the real binary, in the mode FLASHSALE_MODE names: the buyer page and the operator page as
// people use them, with every change arriving without a reload. Each run also leaves screenshots
// of both pages at phone and desktop width in SCREENSHOT_DIR (build/screenshots/<mode>/).
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
import { startServer, uniqueSku, uniqueUser } from '../blackbox/lib/harness.mjs';
import { launchBrowser, openPage, assertClean, screenshot, VIEWPORTS, UI_TIMEOUT_MS } from './lib/browser.mjs';


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
  // the footer is written once the page has set up the buyer's name field and the Buy button
  await page.waitForFunction(() => document.getElementById('footer-clock')?.textContent.trim() !== '');
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

test('screenshots of both pages at phone and desktop width', async () => {
  const saved = [];
  for (const [width, viewport] of Object.entries(VIEWPORTS)) {
    const sale = await server.createSale({ productName: 'Limited Edition Widget', initialStock: 120 });
    let sold = 0;
    // the operator watches while orders come in, so the live counters and the chart have something
    const admin = await adminPage({ viewport });
    const soldCell = admin.page.locator(`tr[data-sku="${sale.sku}"] [data-field="sold"]`);
    for (let wave = 0; wave < 3; wave++) {
      for (let i = 0; i < 6 + 4 * wave; i++, sold++) await server.purchase(sale.sku, uniqueUser('shot'));
      await admin.page.waitForFunction(([cell, n]) => Number(document.querySelector(cell)?.textContent.replace(/[^\d]/g, '')) === n,
        [`tr[data-sku="${sale.sku}"] [data-field="sold"]`, sold]);
    }
    assert.equal(Number((await soldCell.innerText()).replace(/[^\d]/g, '')), sold);

    const { context, page } = await buyerPage(sale.sku, { viewport, name: uniqueUser('shopper') });
    await clickBuy(page);
    await waitForOutcome(page, 'success');
    sold += 1;
    await waitForStock(page, 120 - sold);
    saved.push(await screenshot(page, `buyer-${width}`));
    assertClean(page);
    await context.close();

    await admin.page.getByRole('button', { name: `Orders of ${sale.sku}` }).click();
    await admin.page.locator('#orders-body tr').nth(sold - 1).waitFor();
    saved.push(await screenshot(admin.page, `admin-${width}`));
    assertClean(admin.page);
    await admin.context.close();
  }
  for (const file of saved) assert.ok((await stat(file)).size > 10_000, `${file} looks empty`);
});

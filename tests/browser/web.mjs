// web.mjs - drives the satisfy web app in the installed headless Chromium
// (playwright-core, executablePath /usr/bin/chromium, fresh profile):
// loads /, checks that no request leaves the server, submits the prefilled
// order and expects stars, a risk gauge and reasons; marks a bad field; then
// waits for the live view to show a nonzero event rate and the model timeline.
// Usage: node web.mjs URL OUTDIR [--wait-rate]   (screenshots go to OUTDIR)
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, out] = process.argv.slice(2);
const waitRate = process.argv.includes('--wait-rate');
if (!url || !out) {
  console.error('usage: node web.mjs URL OUTDIR [--wait-rate]');
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), 'satisfy-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 1000 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let failed = false;
const fail = (msg) => { console.error(`FAIL: ${msg}`); failed = true; };
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  const origin = new URL(url).origin;
  page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) fail(`external request ${r.url()}`); });
  page.on('pageerror', (e) => fail(`page error: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('#order-form');

  // a bad value is marked next to its field, without a request
  await page.fill('#price', '-3');
  await page.click('#submit');
  const err = await page.textContent('.err[data-for="price"]');
  if (!err || !/between/.test(err)) fail(`price error not shown: '${err}'`);
  if (!(await page.$eval('#price', (e) => e.classList.contains('invalid')))) fail('price not marked invalid');
  await page.fill('#price', '129.90');

  // a late delivery: predicted stars, a gauge and reasons
  await page.fill('#estimated', '10');
  await page.fill('#delivered', '25');
  await page.click('#submit');
  await page.waitForSelector('#result:not([hidden])', { timeout: 10000 });
  const stars = Number(await page.getAttribute('#stars', 'data-stars'));
  if (!(stars >= 1 && stars <= 5)) fail(`stars ${stars}`);
  const reasons = await page.$$eval('#reasons li', (l) => l.map((x) => x.textContent));
  if (reasons.length < 1 || !reasons.every((r) => /the expected rating by/.test(r))) fail(`reasons ${JSON.stringify(reasons)}`);
  const gauge = await page.textContent('#gauge-value');
  if (!/^\d+%$/.test(gauge || '')) fail(`gauge ${gauge}`);
  const model = await page.textContent('#result-model');
  if (!/model version \d+/.test(model || '')) fail(`model line ${model}`);
  console.log(`prediction: ${stars} stars, risk ${gauge}; ${reasons.join(' | ')}`);
  await page.screenshot({ path: join(out, 'web-predict.png'), fullPage: true });

  if (waitRate) {
    await page.waitForFunction(() => Number(document.getElementById('t-events').textContent) > 0 &&
      parseFloat(document.getElementById('t-rate').textContent) > 0, null, { timeout: 60000 })
      .catch(() => fail('live view never showed a nonzero rate'));
    await page.waitForFunction(() => document.querySelectorAll('#timeline li.loaded').length > 0, null,
      { timeout: 15000 }).catch(() => fail('no model in the timeline'));
    await page.waitForFunction(() => document.querySelectorAll('#recent tbody tr').length > 0, null,
      { timeout: 15000 }).catch(() => fail('no recent predictions'));
    console.log(`live: ${await page.textContent('#t-rate')} events/s, ${await page.textContent('#t-events')} events`);
    await page.screenshot({ path: join(out, 'web-live.png'), fullPage: true });
  }
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

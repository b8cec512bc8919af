// web.mjs - drives the satisfy web app in the installed headless Chromium
// (playwright-core, executablePath /usr/bin/chromium, fresh profile):
// loads /, checks that no request leaves the server, submits the prefilled
// order and expects stars, a risk gauge and reasons; marks a bad field; then
// waits for the live view to show a nonzero event rate, the model timeline
// with the retrainer's gate decisions (a release the server loaded shown once,
// a rejection with its reason and RMSE, in another colour) and, once
// satisfy.metrics has online accuracy, a line per model version in the online
// RMSE chart; the alerts panel: at-risk orders (the scorer runs with
// --alert-threshold), each once, with its risk at or above the threshold and
// its reasons in words; and the champion panel: the served version, the
// ServingStates newest first with their cause and reason, and no control
// (read-only); the champion and challenger panel: both versions side by side
// with their live RMSE and interval, the orders compared, the interval of the
// difference, the status with its reason, the past challenge with its
// outcome, and no control.
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
// Polls fn in the page until it is truthy. (page.waitForFunction re-evaluates
// its predicate with eval, which the page's CSP forbids: playwright issue
// #7395, fixed only in later releases.)
async function waitFor(page, fn, timeout) {
  const end = Date.now() + timeout;
  while (!(await page.evaluate(fn))) {
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
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
    await waitFor(page, () => Number(document.getElementById('t-events').textContent) > 0 &&
      parseFloat(document.getElementById('t-rate').textContent) > 0, 60000)
      .catch(() => fail('live view never showed a nonzero rate'));
    await waitFor(page, () => document.querySelectorAll('#timeline li.loaded').length > 0,
      15000).catch(() => fail('no model in the timeline'));
    // the gate decisions: v1 released and loaded (one entry), v2 rejected with its reason
    await waitFor(page, () => document.querySelector('#timeline li.decision.released.loaded[data-version="1"]') &&
      document.querySelector('#timeline li.decision.rejected[data-version="2"]'), 15000)
      .catch(() => fail('the timeline does not show decision v1 (released, loaded) and v2 (rejected)'));
    const entries = await page.$$eval('#timeline li', (ls) => ls.map((l) => ({
      v: l.dataset.version, cls: l.className, text: l.textContent })));
    const v1 = entries.filter((e) => e.v === '1'), v2 = entries.filter((e) => e.v === '2');
    if (v1.length !== 1) fail(`version 1 shows ${v1.length} times: ${JSON.stringify(entries)}`);
    if (v2.length !== 1 || !/rejected \(gain below margin\): browser test/.test(v2[0].text) ||
      !/RMSE 1\.1300 vs 1\.1234 \(champion v1\)/.test(v2[0].text))
      fail(`rejection of v2: ${JSON.stringify(v2)}`);
    if (v1.length && !/RMSE 1\.1234 vs 1\.3456 \(mean\)/.test(v1[0].text)) fail(`release of v1: ${JSON.stringify(v1)}`);
    const colours = await page.$$eval('#timeline li.decision', (ls) => ls.map((l) => getComputedStyle(l).borderLeftColor));
    if (new Set(colours).size < 2) fail(`rejections not visually distinct: ${JSON.stringify(colours)}`);
    console.log(`timeline: ${entries.map((e) => `v${e.v} [${e.cls}]`).join(', ')}`);
    // the champion panel: v1, the rollback (epoch 2) above the gate (epoch 1), read-only
    await waitFor(page, () => document.querySelector('#champion-now').dataset.champion === '1' &&
      document.querySelectorAll('#serving-timeline li.serving').length === 2, 15000)
      .catch(() => fail('the champion panel does not show v1 and its two serving states'));
    const serving = await page.$$eval('#serving-timeline li.serving', (ls) => ls.map((l) => ({
      epoch: l.dataset.epoch, v: l.dataset.version, cls: l.className, text: l.textContent })));
    if (serving[0].epoch !== '2' || !/rollback/.test(serving[0].cls) ||
      !/ana: browser test rollback/.test(serving[0].text) || serving[1].epoch !== '1' ||
      !/gate/.test(serving[1].cls)) fail(`serving timeline ${JSON.stringify(serving)}`);
    const now = await page.textContent('#champion-now');
    if (!/champion v1 · rolled back \(epoch 2\)/.test(now)) fail(`champion line ${now}`);
    const controls = await page.$$('#champion button, #champion input, #champion select, #champion textarea, #champion form, #champion a[href]');
    if (controls.length) fail(`the champion panel has ${controls.length} controls: it must be read-only`);
    if (!/Read-only by design/.test(await page.textContent('#champion .read-only'))) fail('no read-only note in the champion panel');
    console.log(`champion: ${now}; serving timeline: ${serving.map((x) => `epoch ${x.epoch} v${x.v} [${x.cls}]`).join(', ')}`);
    // champion and challenger: v1 and v4 side by side with their live RMSE and
    // interval, the orders compared, the difference's interval, the status and
    // its reason; v3 (retired earlier) in the past challenges; read-only
    await waitFor(page, () => document.getElementById('challenge-status').dataset.status === 'running' &&
      document.querySelectorAll('#challenge-history li.challenge').length === 1, 15000)
      .catch(() => fail('the champion and challenger panel does not show the running challenge and one past one'));
    const side = (id) => page.$eval(id, (d) => ({ v: d.dataset.version, text: d.textContent }));
    const champ = await side('#challenge-champion'), chall = await side('#challenge-challenger');
    if (champ.v !== '1' || !/v1/.test(champ.text) || !/RMSE 1\.310/.test(champ.text) ||
      !/95% interval \[1\.250, 1\.370\]/.test(champ.text)) fail(`champion side ${JSON.stringify(champ)}`);
    if (chall.v !== '4' || !/v4/.test(chall.text) || !/RMSE 1\.220/.test(chall.text) ||
      !/95% interval \[1\.160, 1\.280\]/.test(chall.text)) fail(`challenger side ${JSON.stringify(chall)}`);
    if (!(await page.$eval('#challenge-challenger', (d) => d.classList.contains('better')))) fail('the lower RMSE is not marked');
    const cstatus = await page.textContent('#challenge-status');
    if (!/running/.test(cstatus) || !/412 of 300 orders compared: no decision yet \(browser test\)/.test(cstatus))
      fail(`challenge status ${cstatus}`);
    const corders = await page.textContent('#challenge-orders');
    if (!/^412 orders compared \(decides from 300, retires without a decision at 3000\)/.test(corders)) fail(`orders line ${corders}`);
    const cdiff = await page.textContent('#challenge-diff');
    if (!/mean 0\.200, 95% bootstrap interval \[0\.100, 0\.300\] \(1000 resamples\); RMSE gain 0\.090 \(promoted from 0\.005/.test(cdiff)) fail(`difference line ${cdiff}`);
    const past = await page.$$eval('#challenge-history li.challenge', (ls) => ls.map((l) => ({
      v: l.dataset.version, cls: l.className, text: l.textContent })));
    if (past[0].v !== '3' || !/retired/.test(past[0].cls) || !/v3 against v1 retired/.test(past[0].text) ||
      !/RMSE 1\.410 vs 1\.200 over 900 orders/.test(past[0].text) ||
      !/retired: worse than the champion on 900 live orders \(browser test\)/.test(past[0].text))
      fail(`past challenges ${JSON.stringify(past)}`);
    const ccontrols = await page.$$('#challenge button, #challenge input, #challenge select, #challenge textarea, #challenge form, #challenge a[href]');
    if (ccontrols.length) fail(`the champion and challenger panel has ${ccontrols.length} controls: it must be read-only`);
    await page.locator('#challenge').screenshot({ path: join(out, 'web-challenge.png') });
    console.log(`challenge: ${champ.text} | ${chall.text} | ${cstatus} | ${corders} | past: ${past.map((x) => `v${x.v} [${x.cls}]`).join(', ')}`);
    await waitFor(page, () => document.querySelectorAll('#recent tbody tr').length > 0,
      15000).catch(() => fail('no recent predictions'));
    // alerts: at least one, each order once, risk >= threshold, reasons in words
    await waitFor(page, () => document.querySelectorAll('#alerts li.alert').length > 0, 30000)
      .catch(() => fail('no alerts in the alerts panel'));
    const api = await page.evaluate(async () => (await fetch('/v1/alerts?n=20')).json());
    const shown = await page.$$eval('#alerts li.alert', (ls) => ls.map((l) => ({
      order: l.dataset.order, head: l.querySelector('.head').textContent,
      reasons: [...l.querySelectorAll('ul li')].map((r) => r.textContent) })));
    if (typeof api.threshold !== 'number') fail(`/v1/alerts threshold ${api.threshold}`);
    if (!api.alerts.every((a) => a.risk >= a.threshold && a.threshold === api.threshold))
      fail(`an alert under the threshold: ${JSON.stringify(api.alerts.slice(0, 3))}`);
    if (new Set(shown.map((a) => a.order)).size !== shown.length) fail(`an order alerted twice: ${JSON.stringify(shown)}`);
    if (!shown.every((a) => /risk \d+% \(≥ \d+%\)/.test(a.head) && a.reasons.length >= 1 &&
      a.reasons.every((r) => /the expected rating by/.test(r)))) fail(`alerts panel: ${JSON.stringify(shown.slice(0, 3))}`);
    if (!/Threshold: \d/.test(await page.textContent('#alert-threshold'))) fail('alert threshold not shown');
    console.log(`alerts: ${shown.length} shown, threshold ${api.threshold}; first: ${shown[0] && shown[0].head} (${shown[0] && shown[0].reasons.join(' | ')})`);
    // online RMSE: a polyline with at least two points for a version, and its legend
    await waitFor(page, () => [...document.querySelectorAll('#online-chart polyline.online-line')]
      .some((l) => l.getAttribute('points').trim().split(/\s+/).length >= 2), 60000)
      .catch(() => fail('no online RMSE line in the chart'));
    const lines = await page.$$eval('#online-chart polyline.online-line', (ls) => ls.map((l) => ({
      v: l.dataset.version, n: l.getAttribute('points').trim().split(/\s+/).length,
      ok: l.getAttribute('points').trim().split(/\s+/).every((p) => /^-?[\d.]+,-?[\d.]+$/.test(p)) })));
    if (!lines.every((l) => l.ok)) fail(`bad polyline points ${JSON.stringify(lines)}`);
    const legend = await page.$$eval('#online-chart text.legend', (ts) => ts.map((t) => t.textContent));
    for (const l of lines) if (!legend.some((t) => t.startsWith(`v${l.v} `))) fail(`version ${l.v} not in the legend ${JSON.stringify(legend)}`);
    const ticks = await page.$$eval('#online-chart text', (ts) => ts.map((t) => t.textContent).filter((t) => /^\d{4}-\d{2}-\d{2}$/.test(t)));
    if (ticks.length < 2) fail(`no dates on the time axis ${JSON.stringify(ticks)}`);
    console.log(`online RMSE lines: ${lines.map((l) => `v${l.v} (${l.n} points)`).join(', ')}; legend ${legend.join(' | ')}`);
    // the drift panel: this scorer's PSI per feature (its release carries the
    // training distribution), at most 10 rows, and the retrainer's detector state
    await waitFor(page, () => document.querySelectorAll('#drift-psi tbody tr').length > 0 &&
      /page-hinkley/.test(document.getElementById('drift-outcome').textContent), 30000)
      .catch(() => fail('the drift panel shows no PSI or no outcome detector state'));
    const psi = await page.$$eval('#drift-psi tbody tr', (rs) => rs.map((r) => ({
      f: r.dataset.feature, v: r.children[1].textContent })));
    if (psi.length > 10 || !psi.every((r) => r.f && /^\d+\.\d{3}$/.test(r.v))) fail(`PSI rows ${JSON.stringify(psi)}`);
    const outcome = await page.textContent('#drift-outcome');
    if (!/1 alarm, last at 2018-06-20/.test(outcome)) fail(`outcome drift line: ${outcome}`);
    console.log(`drift: ${psi.length} PSI rows (top ${psi[0] && psi[0].f} ${psi[0] && psi[0].v}); ${outcome}`);
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

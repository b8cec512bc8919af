/* satisfy web app: the prediction form and the live view. Plain JS, no
 * libraries; talks to the JSON API of the same server (docs/web.md). */
'use strict';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const RISKY = 0.35; /* risk above which a prediction is highlighted */

const CATEGORIES = ['bed_bath_table', 'health_beauty', 'sports_leisure', 'furniture_decor',
  'computers_accessories', 'housewares', 'watches_gifts', 'telephony', 'garden_tools', 'auto',
  'toys', 'cool_stuff', 'perfumery', 'baby', 'electronics', 'stationery', 'fashion_bags_accessories',
  'pet_shop', 'office_furniture', 'consoles_games', 'luggage_accessories', 'construction_tools_construction',
  'home_appliances', 'musical_instruments', 'small_appliances', 'books_general_interest'];
/* state capitals (lat, lng): the distance feature needs coordinates */
const STATES = { AC: [-9.97, -67.81], AL: [-9.67, -35.74], AM: [-3.1, -60.02], AP: [0.03, -51.07],
  BA: [-12.97, -38.5], CE: [-3.73, -38.52], DF: [-15.78, -47.93], ES: [-20.32, -40.34],
  GO: [-16.68, -49.25], MA: [-2.53, -44.3], MG: [-19.92, -43.94], MS: [-20.44, -54.65],
  MT: [-15.6, -56.1], PA: [-1.46, -48.5], PB: [-7.12, -34.86], PE: [-8.05, -34.9],
  PI: [-5.09, -42.8], PR: [-25.43, -49.27], RJ: [-22.91, -43.17], RN: [-5.79, -35.21],
  RO: [-8.76, -63.9], RR: [2.82, -60.67], RS: [-30.03, -51.23], SC: [-27.59, -48.55],
  SE: [-10.91, -37.07], SP: [-23.55, -46.63], TO: [-10.18, -48.33] };

const DAY = 86400000;
const hex32 = () => Array.from(crypto.getRandomValues(new Uint8Array(16)),
  (b) => b.toString(16).padStart(2, '0')).join('');
const SELLER = hex32(), PRODUCT = hex32();

function fill(select, values, chosen) {
  for (const v of values) {
    const o = document.createElement('option');
    o.value = v; o.textContent = v.replace(/_/g, ' ');
    if (v === chosen) o.selected = true;
    select.appendChild(o);
  }
}

/* ------------------------------------------------------------ the form */

const FIELDS = ['n_items', 'price', 'freight', 'weight', 'photos', 'installments', 'paid',
  'purchase', 'estimated', 'delivered', 'ccity', 'scity', 'cstate', 'sstate', 'pay_type'];

function clearErrors() {
  for (const el of document.querySelectorAll('.err')) el.textContent = '';
  for (const el of document.querySelectorAll('.invalid')) el.classList.remove('invalid');
}

function markError(input, msg) {
  const el = $(input);
  if (!el) { $('form-error').textContent = msg; return; }
  el.classList.add('invalid');
  const span = document.querySelector(`.err[data-for="${input}"]`);
  if (span) span.textContent = msg; else $('form-error').textContent = msg;
}

function num(id, { min = -Infinity, max = Infinity, int = false, optional = false } = {}) {
  const raw = $(id).value.trim();
  if (raw === '' && optional) return null;
  const v = Number(raw);
  if (raw === '' || !Number.isFinite(v)) throw [id, 'enter a number'];
  if (int && !Number.isInteger(v)) throw [id, 'enter a whole number'];
  if (v < min || v > max) throw [id, `between ${min} and ${max}`];
  return v;
}

/* Builds the order event (the JSON shape of the codec, docs/web.md). */
function buildOrder() {
  const n = num('n_items', { min: 1, max: 20, int: true });
  const price = num('price', { min: 0 }), freight = num('freight', { min: 0 });
  const weight = num('weight', { min: 0 }), photos = num('photos', { min: 0, int: true });
  const inst = num('installments', { min: 1, max: 24, int: true });
  let paid = num('paid', { min: 0, optional: true });
  if (paid === null) paid = Math.round((price * n + freight) * 100) / 100;
  const p = Date.parse($('purchase').value + ':00Z');
  if (!Number.isFinite(p)) throw ['purchase', 'enter a date and time'];
  const est = num('estimated', { min: 0, max: 120, int: true });
  const delivered = $('is_delivered').checked;
  const dd = delivered ? num('delivered', { min: 0, max: 365, int: true }) : null;
  for (const id of ['ccity', 'scity'])
    if (!$(id).value.trim()) throw [id, 'enter a city'];
  const cs = $('cstate').value, ss = $('sstate').value;
  const place = (city, st) => ({ zip: '', city: city.trim().toLowerCase(), state: st,
    lat: STATES[st][0], lng: STATES[st][1] });
  const items = [];
  for (let i = 0; i < n; i++)
    items.push({ seq: i + 1, product_id: PRODUCT, seller_id: SELLER, price, freight: freight / n,
      shipping_limit: p + 6 * DAY, category: $('category').value, name_len: 48,
      desc_len: 600, photos, weight_g: weight, length_cm: 30, height_cm: 15, width_cm: 20,
      seller: place($('scity').value, ss) });
  const deliveredAt = delivered ? p + dd * DAY : null;
  return {
    order_id: hex32(), customer_id: hex32(), customer_unique_id: hex32(),
    stage: delivered ? 'DELIVERED' : 'PURCHASED',
    event_time: delivered ? deliveredAt : p,
    purchase_time: p, estimated_delivery: p + est * DAY,
    approved_time: delivered ? p + 2 * 3600000 : null,
    carrier_time: delivered ? p + Math.min(2, dd) * DAY : null,
    delivered_time: deliveredAt,
    customer: place($('ccity').value, cs),
    items,
    payments: [{ seq: 1, type: $('pay_type').value, installments: inst, value: paid }],
  };
}

/* a server error's field ("items[0].price") -> the form input */
function inputOf(field) {
  if (!field) return null;
  const f = field.replace(/\[\d+\]/g, '[]');
  const map = { 'items[].price': 'price', 'items[].freight': 'freight', 'items[].weight_g': 'weight',
    'items[].photos': 'photos', 'items': 'n_items', 'payments[].value': 'paid',
    'payments[].installments': 'installments', 'payments[].type': 'pay_type',
    'purchase_time': 'purchase', 'estimated_delivery': 'estimated', 'delivered_time': 'delivered',
    'customer.city': 'ccity', 'customer.state': 'cstate', 'items[].seller.city': 'scity',
    'items[].seller.state': 'sstate' };
  return map[f] || null;
}

/* ------------------------------------------------------------ the result */

const PHRASES = {
  delay_days: (v) => v > 0 ? `delivered ${v.toFixed(0)} days after the promised date`
    : `delivered ${(-v).toFixed(0)} days before the promised date`,
  late: (v) => v ? 'delivered late' : 'delivered on time',
  delivery_days: (v) => `took ${v.toFixed(0)} days to arrive`,
  estimated_days: (v) => `delivery promised within ${v.toFixed(0)} days`,
  elapsed_days: (v) => `${v.toFixed(0)} days since the purchase`,
  total_price: (v) => `order value R$ ${v.toFixed(2)}`,
  total_freight: (v) => `freight R$ ${v.toFixed(2)}`,
  freight_ratio: (v) => `freight is ${(v * 100).toFixed(0)}% of the price`,
  n_items: (v) => `${v} item${v === 1 ? '' : 's'} in the order`,
  n_sellers: (v) => `${v} seller${v === 1 ? '' : 's'}`,
  distance_km: (v) => `seller ${v.toFixed(0)} km away from the customer`,
  same_state: (v) => v ? 'seller in the customer\'s state' : 'seller in another state',
  max_installments: (v) => `paid in ${v} installment${v === 1 ? '' : 's'}`,
  payment_value: (v) => `R$ ${v.toFixed(2)} paid`,
  voucher_used: (v) => v ? 'paid with a voucher' : 'no voucher',
  seller_review_mean: (v) => `seller's earlier reviews average ${v.toFixed(1)} stars`,
  seller_review_count: (v) => `seller has ${v} earlier reviews`,
  seller_late_rate: (v) => `seller delivered ${(v * 100).toFixed(0)}% of earlier orders late`,
  customer_orders: (v) => `customer's ${v === 0 ? 'first' : 'repeat'} order`,
  stage: (v) => ['at purchase', 'approved', 'shipped', 'delivered', 'canceled', 'unavailable'][v] || 'stage',
  mean_photos: (v) => `${v.toFixed(0)} product photo${v === 1 ? '' : 's'}`,
  max_weight_g: (v) => `heaviest item ${(v / 1000).toFixed(1)} kg`,
  sum_weight_g: (v) => `${(v / 1000).toFixed(1)} kg in total`,
  carrier_days: (v) => `handed to the carrier after ${v.toFixed(1)} days`,
  approval_hours: (v) => `payment approved after ${v.toFixed(1)} hours`,
  purchase_hour: (v) => `bought at ${v}h`,
  purchase_month: (v) => `bought in month ${v}`,
};

function reasonText(r) {
  const f = PHRASES[r.feature];
  const what = f && r.value !== null ? f(r.value) : `${r.feature.replace(/_/g, ' ')} = ${r.value === null ? 'unknown' : +r.value.toFixed(3)}`;
  const c = r.contribution;
  return `${what.charAt(0).toUpperCase()}${what.slice(1)}: ${c < 0 ? 'lowers' : 'raises'} the expected rating by ${Math.abs(c).toFixed(2)} stars`;
}

function el(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function drawGauge(p) {
  const g = $('gauge');
  g.replaceChildren();
  const cx = 100, cy = 100, r = 80;
  const pt = (f) => [cx - r * Math.cos(Math.PI * f), cy - r * Math.sin(Math.PI * f)];
  const arc = (a, b, color) => {
    const [x1, y1] = pt(a), [x2, y2] = pt(b);
    g.appendChild(el('path', { d: `M${x1},${y1} A${r},${r} 0 0 1 ${x2},${y2}`, stroke: color,
      'stroke-width': 16, fill: 'none' }));
  };
  arc(0, 0.2, '#1f8a4c'); arc(0.2, 0.35, '#d68910'); arc(0.35, 1, '#c0392b');
  const [nx, ny] = pt(Math.max(0, Math.min(1, p)));
  g.appendChild(el('line', { x1: cx, y1: cy, x2: nx, y2: ny, stroke: '#1d2330', 'stroke-width': 3 }));
  g.appendChild(el('circle', { cx, cy, r: 5, fill: '#1d2330' }));
  g.appendChild(el('text', { x: cx, y: 118, 'text-anchor': 'middle', 'font-size': 16,
    'font-weight': 600, id: 'gauge-value' }, `${(p * 100).toFixed(0)}%`));
}

// The reasons of a prediction in words, one item each (the form's result and
// the alerts panel).
function fillReasons(ul, reasons) {
  ul.replaceChildren();
  for (const r of reasons) {
    const li = document.createElement('li');
    li.className = r.contribution < 0 ? 'down' : 'up';
    li.textContent = reasonText(r);
    ul.appendChild(li);
  }
}

// An "empty" item in list ol when it has none.
function emptyNote(ol, text) {
  if (ol.children.length) return;
  const li = document.createElement('li');
  li.className = 'empty';
  li.textContent = text;
  ol.appendChild(li);
}

function showPrediction(pr) {
  const stars = Math.max(1, Math.min(5, Math.round(pr.score)));
  $('stars').innerHTML = '';
  for (let i = 1; i <= 5; i++) {
    const s = document.createElement('span');
    s.textContent = '★';
    if (i > stars) s.className = 'off';
    $('stars').appendChild(s);
  }
  $('stars').dataset.stars = stars;
  $('score').textContent = `${pr.score.toFixed(2)} of 5 expected`;
  drawGauge(pr.p_dissatisfied);
  fillReasons($('reasons'), pr.reasons);
  $('result-model').textContent = `model version ${pr.model_version} · ${pr.stage.toLowerCase()} stage`;
  $('result').hidden = false;
}

async function submit(ev) {
  ev.preventDefault();
  clearErrors();
  let order;
  try { order = buildOrder(); } catch (e) {
    if (Array.isArray(e)) { markError(e[0], e[1]); return; }
    throw e;
  }
  $('submit').disabled = true;
  try {
    const res = await fetch('/v1/predict', { method: 'POST',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(order) });
    const body = await res.json();
    if (!res.ok) {
      const input = inputOf(body.field);
      if (input) markError(input, body.error); else $('form-error').textContent = body.error;
      return;
    }
    showPrediction(body);
  } catch (e) {
    $('form-error').textContent = `request failed: ${e.message}`;
  } finally {
    $('submit').disabled = false;
  }
}

/* ------------------------------------------------------------ live view */

const rates = [];
const fmtMs = (v) => v === null || v === undefined ? '-' : v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(0)} ms`;

function drawRate() {
  const g = $('rate-chart');
  g.replaceChildren();
  if (rates.length < 2) return;
  const max = Math.max(1, ...rates.map((r) => r[1]));
  const t0 = rates[0][0], t1 = rates[rates.length - 1][0];
  const pts = rates.map(([t, v]) => `${(t - t0) / Math.max(1, t1 - t0) * 590 + 5},${115 - v / max * 100}`);
  g.appendChild(el('polyline', { points: pts.join(' '), fill: 'none', stroke: '#2c5aa0', 'stroke-width': 2 }));
  g.appendChild(el('text', { x: 8, y: 14, 'font-size': 11, fill: '#5b6475' }, `max ${max.toFixed(0)} events/s`));
}

async function pollStats() {
  try {
    const s = await (await fetch('/v1/stats')).json();
    $('t-rate').textContent = s.events_per_second === null ? '-' : s.events_per_second.toFixed(1);
    $('t-p50').textContent = fmtMs(s.latency_ms.process.p50);
    $('t-p99').textContent = fmtMs(s.latency_ms.process.p99);
    $('t-dlq').textContent = s.dlq;
    $('t-lag').textContent = s.lag === null ? '-' : s.lag;
    $('t-events').textContent = s.events;
    rates.push([s.now, s.events_per_second || 0]);
    if (rates.length > 300) rates.shift();
    drawRate();
  } catch (e) { /* the next poll retries */ }
}

/* Online RMSE per model version over event time (GET /v1/online): one
 * polyline per version, the newest versions coloured and in the legend. */
const PALETTE = ['#2c5aa0', '#c0392b', '#1f8a4c', '#d68910', '#8e44ad', '#16a085'];
const OLDER = '#b8bec9';
const isoDay = (t) => new Date(t).toISOString().slice(0, 10);

function drawOnline(o) {
  const g = $('online-chart');
  g.replaceChildren();
  const W = 600, H = 220, L = 44, R = 12, T = 24, B = 30;
  const series = o.versions.map((v) => ({ v: v.model_version, pts: v.points.filter((p) => p[1] !== null) }))
    .filter((s) => s.pts.length);
  if (!series.length) {
    g.appendChild(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', 'font-size': 13 },
      o.bad_messages ? `no usable online accuracy yet (${o.bad_messages} bad messages)`
        : 'no online accuracy yet: it appears once reviews of scored orders arrive'));
    return;
  }
  let t0 = Infinity, t1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of series) for (const [t, r] of s.pts) {
    t0 = Math.min(t0, t); t1 = Math.max(t1, t); y0 = Math.min(y0, r); y1 = Math.max(y1, r);
  }
  if (t1 === t0) { t0 -= DAY; t1 += DAY; }
  const pad = Math.max(0.02, (y1 - y0) * 0.08);
  y0 = Math.max(0, y0 - pad); y1 += pad;
  const X = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
  const Y = (v) => H - B - (v - y0) / (y1 - y0) * (H - T - B);
  for (let i = 0; i <= 4; i++) { /* RMSE grid and labels */
    const v = y0 + (y1 - y0) * i / 4;
    g.appendChild(el('line', { x1: L, y1: Y(v), x2: W - R, y2: Y(v), class: 'grid' }));
    g.appendChild(el('text', { x: L - 4, y: Y(v) + 3, 'text-anchor': 'end' }, v.toFixed(2)));
  }
  for (let i = 0; i <= 4; i++) { /* event-time ticks */
    const t = t0 + (t1 - t0) * i / 4;
    g.appendChild(el('line', { x1: X(t), y1: H - B, x2: X(t), y2: H - B + 4, class: 'axis' }));
    g.appendChild(el('text', { x: X(t), y: H - B + 15, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' },
      isoDay(t)));
  }
  g.appendChild(el('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }));
  g.appendChild(el('line', { x1: L, y1: T - 4, x2: L, y2: H - B, class: 'axis' }));
  g.appendChild(el('text', { x: 4, y: 12 }, 'RMSE'));
  g.appendChild(el('text', { x: W - R, y: H - 2, 'text-anchor': 'end' }, 'event time (UTC)'));
  /* the newest versions get colours, older ones grey and drawn first */
  const newest = series.slice(-PALETTE.length);
  const colour = (s) => { const k = newest.indexOf(s); return k < 0 ? OLDER : PALETTE[k]; };
  for (const s of series) {
    const c = colour(s);
    const line = el('polyline', { points: s.pts.map(([t, r]) => `${X(t).toFixed(1)},${Y(r).toFixed(1)}`).join(' '),
      fill: 'none', stroke: c, 'stroke-width': c === OLDER ? 1.2 : 2, 'data-version': s.v, class: 'online-line' });
    const [lt, lr, la, ln] = s.pts[s.pts.length - 1];
    line.appendChild(el('title', {}, `model ${s.v}: RMSE ${lr.toFixed(3)}` +
      `${la === null ? '' : `, AUC ${la.toFixed(3)}`} over ${ln} reviews up to ${isoDay(lt)}`));
    g.appendChild(line);
    g.appendChild(el('circle', { cx: X(lt), cy: Y(lr), r: 2.5, fill: c }));
  }
  newest.forEach((s, k) => { /* legend, left to right, oldest first */
    const x = L + 6 + k * 92, last = s.pts[s.pts.length - 1];
    g.appendChild(el('rect', { x, y: 4, width: 12, height: 4, fill: PALETTE[k] }));
    g.appendChild(el('text', { x: x + 16, y: 10, class: 'legend', 'data-version': s.v },
      `v${s.v} ${last[1].toFixed(3)}`));
  });
}

async function pollOnline() {
  try {
    drawOnline(await (await fetch('/v1/online')).json());
  } catch (e) { /* retried */ }
}

/* The model timeline: the retrainer's gate decisions (releases and
 * rejections, from satisfy.metrics) merged with what this server's own
 * watcher saw on satisfy.models. A release the server loaded shows once,
 * marked loaded; a release it refused, or one loaded without a decision in
 * view, shows as the watcher reported it. Newest first. */
const fmtRmse = (v) => v === null || v === undefined ? '-' : v.toFixed(4);
const span = (cls, text) => {
  const e = document.createElement('span');
  e.className = cls; e.textContent = text;
  return e;
};

function timelineEntries(m) {
  const loaded = new Map(), released = new Set(), out = [];
  for (const e of m.timeline) if (e.event === 'loaded') loaded.set(e.version, e);
  for (const d of m.decisions || []) {
    if (d.released) released.add(d.version);
    out.push({ t: d.decided_at, v: d.version, d, loaded: d.released ? loaded.get(d.version) : undefined });
  }
  for (const e of m.timeline) /* a load of a released decision is shown on it */
    if (!(e.event === 'loaded' && released.has(e.version))) out.push({ t: e.at, v: e.version, e });
  return out.sort((a, b) => b.t - a.t || b.v - a.v);
}

function decisionItem(d, loadedEv) {
  const li = document.createElement('li');
  li.className = `decision ${d.released ? 'released' : 'rejected'}${loadedEv ? ' loaded' : ''}`;
  li.dataset.version = d.version;
  const head = document.createElement('div');
  head.className = 'head';
  head.append(span('when', new Date(d.decided_at).toLocaleTimeString()), ' ',
    span('ver', `v${d.version}`), ' ',
    span(`badge ${d.released ? 'released' : 'rejected'}`, d.released ? 'released' : 'rejected'));
  if (loadedEv) head.append(' ', span('badge loaded', `loaded ${new Date(loadedEv.at).toLocaleTimeString()}`));
  const ref = d.reference;
  head.append(' ', span('rmse', `RMSE ${fmtRmse(d.candidate.rmse)} vs ${fmtRmse(ref.rmse)} (${ref.name})`));
  const auc = d.candidate.auc === null ? '' : `, AUC ${d.candidate.auc.toFixed(3)}` +
    (ref.auc === null ? '' : ` vs ${ref.auc.toFixed(3)}`);
  const upto = d.data_until === null ? '' : `, data up to ${isoDay(d.data_until)}`;
  head.append(span('ctx', ` · ${d.candidate.name}, holdout ${d.holdout_orders} orders${auc}${upto}`));
  const why = document.createElement('div');
  why.className = 'reason';
  why.textContent = d.reason;
  li.append(head, why);
  return li;
}

async function pollModels() {
  try {
    const m = await (await fetch('/v1/models')).json();
    const a = m.active;
    $('model-line').textContent = a ? `model v${a.version} · ${a.algorithm} · spec ${a.spec} (${a.n_features} features)`
      : 'no model released yet';
    const ol = $('timeline');
    ol.replaceChildren();
    for (const x of timelineEntries(m)) {
      if (x.d) { ol.appendChild(decisionItem(x.d, x.loaded)); continue; }
      const e = x.e, li = document.createElement('li');
      const at = new Date(e.at).toLocaleTimeString();
      li.className = e.event;
      li.dataset.version = e.version;
      li.textContent = e.event === 'loaded' ? `${at} model ${e.version} loaded (${e.model})`
        : `${at} release refused by this server: ${e.reason}`;
      ol.appendChild(li);
    }
    emptyNote(ol, 'no model decisions yet: they appear when the retrainer gates a candidate');
  } catch (e) { /* retried */ }
}

/* The champion panel (GET /v1/serving): the version served, the rule that
 * chose it (the highest-epoch ServingState, else the newest release) and the
 * ServingStates this server has seen, newest first (gate, promote, rollback,
 * live). Read-only by design: no control on the page changes it. */
const CAUSES = { gate: 'released by the gate', promote: 'promoted by hand',
  rollback: 'rolled back', live: 'promoted on live outcomes', challenger: 'challenger started',
  retire: 'challenger retired' };

function servingItem(s) {
  const li = document.createElement('li');
  li.className = `serving ${s.cause}`;
  li.dataset.epoch = s.epoch;
  li.dataset.version = s.champion;
  const head = document.createElement('div');
  head.className = 'head';
  head.append(span('when', new Date(s.at).toLocaleString()), ' ',
    span('ver', `v${s.champion}`), ' ', span(`badge ${s.cause}`, s.cause), ' ',
    span('ctx', `epoch ${s.epoch} · ${CAUSES[s.cause] || s.cause}` +
      (s.challenger ? ` · challenger v${s.challenger}` : '')));
  const why = document.createElement('div');
  why.className = 'reason';
  why.textContent = s.reason || '(no reason given)';
  li.append(head, why);
  return li;
}

async function pollServing() {
  try {
    const s = await (await fetch('/v1/serving')).json();
    const now = $('champion-now');
    now.replaceChildren();
    if (s.state) {
      now.append('champion ', span('ver', `v${s.state.champion}`),
        ` · ${CAUSES[s.state.cause] || s.state.cause} (epoch ${s.state.epoch})`);
      if (s.active_version !== s.state.champion)
        now.append(` · this server still serves v${s.active_version}: waiting for v${s.state.champion}'s release`);
    } else {
      now.append(s.active_version ? `serving the newest release, v${s.active_version}: no promote or rollback yet`
        : 'no model released yet');
    }
    now.dataset.champion = s.state ? s.state.champion : s.active_version;
    servingChallenger = s.state ? s.state.challenger : 0;
    const ol = $('serving-timeline');
    ol.replaceChildren();
    for (const x of [...s.history].reverse()) ol.appendChild(servingItem(x));
    if (!ol.children.length) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = 'no serving changes seen yet (the retrainer writes one per release)';
      ol.appendChild(li);
    }
  } catch (e) { /* retried */ }
}

/* The champion and challenger panel (GET /v1/challenge): the retrainer's
 * live judge of the newest challenge side by side (each model's paired RMSE
 * on the same delivered orders with its bootstrap interval), the orders
 * compared against the judge's minimum and maximum, the interval of the
 * squared-error difference and the status with its reason; the older
 * challenges below with their outcome. Read-only: nothing here decides. */
const fmt3 = (v) => v === null || v === undefined ? '-' : v.toFixed(3);
const interval = (ci) => Array.isArray(ci) && ci[0] !== null && ci[1] !== null
  ? `[${fmt3(ci[0])}, ${fmt3(ci[1])}]` : 'interval not computable yet';
const pct = (c) => c === null || c === undefined ? '' : `${+(c * 100).toFixed(1)}% `;
let servingChallenger = 0; /* the challenger the newest ServingState names (pollServing) */

function fillSide(id, version, rmse, ci, conf, better) {
  const d = $(id);
  d.dataset.version = version;
  d.classList.toggle('better', better);
  d.querySelector('.ver').textContent = `v${version}`;
  d.querySelector('.rmse').textContent = `RMSE ${fmt3(rmse)}`;
  d.querySelector('.ci').textContent = `${pct(conf)}interval ${interval(ci)}`;
}

function challengeItem(c) {
  const li = document.createElement('li');
  li.className = `challenge ${c.status}`;
  li.dataset.version = c.challenger;
  const head = document.createElement('div');
  head.className = 'head';
  head.append(span('when', new Date(c.decided_at || c.at || c.started_at).toLocaleString()), ' ',
    span('ver', `v${c.challenger}`), ` against v${c.champion} `, span(`badge ${c.status}`, c.status), ' ',
    span('ctx', `RMSE ${fmt3(c.rmse_challenger)} vs ${fmt3(c.rmse_champion)} over ${c.orders ?? '-'} orders`));
  const why = document.createElement('div');
  why.className = 'reason';
  why.textContent = c.reason || '';
  li.append(head, why);
  return li;
}

function drawChallenge(x) {
  const c = x.current, st = $('challenge-status');
  st.replaceChildren();
  $('challenge-sides').hidden = !c;
  if (!c) {
    st.dataset.status = 'none';
    st.append(servingChallenger ? `challenger v${servingChallenger} named by the serving state: no live orders judged yet`
      : 'no challenger');
    $('challenge-orders').textContent = '';
    $('challenge-diff').textContent = '';
  } else {
    st.dataset.status = c.status;
    st.append(span(`badge ${c.status}`, c.status), ' ', span('reason', c.reason || ''));
    if (c.status !== 'running')
      st.append(` · no challenger now (v${c.challenger} ${c.status}${c.decided_at ? ` ${new Date(c.decided_at).toLocaleString()}` : ''})`);
    const better = (a, b) => a !== null && b !== null && a !== undefined && b !== undefined && a < b;
    fillSide('challenge-champion', c.champion, c.rmse_champion, c.rmse_champion_ci, c.confidence,
      better(c.rmse_champion, c.rmse_challenger));
    fillSide('challenge-challenger', c.challenger, c.rmse_challenger, c.rmse_challenger_ci, c.confidence,
      better(c.rmse_challenger, c.rmse_champion));
    $('challenge-orders').textContent = `${c.orders ?? '-'} orders compared (decides from ${c.min_orders ?? '-'}, ` +
      `retires without a decision at ${c.max_orders ?? '-'})` + (c.event_time > 0 ? `, reviews up to ${isoDay(c.event_time)}` : '');
    $('challenge-orders').dataset.orders = c.orders ?? '';
    $('challenge-diff').textContent = `Squared-error difference champion − challenger per order: mean ${fmt3(c.diff_mean)}, ` +
      `${pct(c.confidence)}bootstrap interval ${interval([c.lower, c.upper])}` +
      (c.resamples ? ` (${c.resamples} resamples)` : '') + `; RMSE gain ${fmt3(c.gain)}` +
      (typeof c.margin === 'number' ? ` (promoted from ${fmt3(c.margin)} with the interval above zero)` : ' (above zero: the challenger is better)');
  }
  const ol = $('challenge-history');
  ol.replaceChildren();
  for (const h of x.history) ol.appendChild(challengeItem(h));
  emptyNote(ol, 'no past challenges');
}

async function pollChallenge() {
  try {
    drawChallenge(await (await fetch('/v1/challenge')).json());
  } catch (e) { /* retried */ }
}

async function pollRecent() {
  try {
    const r = await (await fetch('/v1/predictions/recent?n=15')).json();
    const tb = document.querySelector('#recent tbody');
    tb.replaceChildren();
    for (const p of r.predictions) {
      const tr = document.createElement('tr');
      if (p.p_dissatisfied >= RISKY) tr.className = 'risky';
      const top = p.reasons.length ? p.reasons[0].feature.replace(/_/g, ' ') : '';
      for (const [cls, text] of [['', p.order_id.slice(0, 8)], ['', p.stage.toLowerCase()],
        ['', '★'.repeat(Math.max(1, Math.min(5, Math.round(p.score))))],
        ['risk', `${(p.p_dissatisfied * 100).toFixed(0)}%`], ['', top], ['', `v${p.model_version}`]]) {
        const td = document.createElement('td');
        if (cls) td.className = cls;
        td.textContent = text;
        tr.appendChild(td);
      }
      tb.appendChild(tr);
    }
  } catch (e) { /* retried */ }
}

/* The drift panel (GET /v1/drift): this scorer's PSI per feature, else the
 * newest one another scorer published; the retrainer's Page-Hinkley state as
 * it published it, or a note that there is none yet. */
const PSI_ALARM = 0.25;

function drawDrift(d) {
  const input = d.input || (d.scorers && d.scorers[0]) || null;
  const tb = document.querySelector('#drift-psi tbody');
  tb.replaceChildren();
  if (!input) {
    $('drift-input-line').textContent = 'no PSI yet: the model\'s release carries no training distribution, or nothing was scored';
  } else {
    $('drift-input-line').textContent = `${d.input ? 'this scorer' : `scorer ${input.scorer}`}, model v${input.model_version}: ` +
      `${input.n} events in the window (of ${input.window}); largest ${input.feature_max} ${input.psi_max.toFixed(3)}`;
    const top = input.features.slice(0, 10), scale = Math.max(PSI_ALARM * 2, top.length ? top[0].psi : 0);
    for (const f of top) {
      const tr = document.createElement('tr');
      tr.dataset.feature = f.name;
      if (f.psi > PSI_ALARM) tr.className = 'drifting';
      const bar = document.createElement('span');
      bar.className = 'psi-bar';
      bar.style.width = `${Math.min(100, (100 * f.psi) / scale).toFixed(1)}%`;
      const cells = [f.name.replace(/_/g, ' '), f.psi.toFixed(3)];
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.appendChild(td);
      }
      const td = document.createElement('td');
      td.className = 'bar';
      td.appendChild(bar);
      tr.appendChild(td);
      tb.appendChild(tr);
    }
  }
  const o = d.outcome, out = $('drift-outcome');
  out.className = `drift-outcome${o && o.alarms > 0 ? ' alarmed' : ''}`;
  if (!o) {
    out.textContent = 'no detector state yet: the retrainer publishes it once reviews meet predictions';
    return;
  }
  const last = o.last_alarm_time ? `, last at ${isoDay(o.last_alarm_time)}` : '';
  out.textContent = `${o.detector}: mean absolute error ${o.mean.toFixed(3)} over ${o.n} reviews since the last reset, ` +
    `statistic ${o.stat.toFixed(2)} of ${o.lambda} (delta ${o.delta}); ${o.alarms} alarm${o.alarms === 1 ? '' : 's'}${last}` +
    (o.retrain_on_drift ? `; retrains on drift: ${o.drift_retrains}` : '');
}

async function pollDrift() {
  try {
    drawDrift(await (await fetch('/v1/drift')).json());
  } catch (e) { /* retried */ }
}

// The alerts panel (GET /v1/alerts): each at-risk order once, with its
// stage, risk, the threshold it crossed and its top reasons in words.
async function pollAlerts() {
  try {
    const a = await (await fetch('/v1/alerts?n=20')).json();
    $('alert-threshold').textContent = a.threshold === null
      ? 'No threshold: this scorer makes no alerts (its release has none and no --alert-threshold).'
      : `Threshold: ${(a.threshold * 100).toFixed(1)}% risk; ${a.emitted} alerted by this scorer.`;
    const ol = $('alerts');
    ol.replaceChildren();
    for (const al of a.alerts) {
      const li = document.createElement('li');
      li.className = 'alert';
      li.dataset.order = al.order_id;
      const head = document.createElement('div');
      head.className = 'head';
      head.textContent = `${al.order_id.slice(0, 8)} · ${al.stage.toLowerCase()} · risk ${(al.risk * 100).toFixed(0)}% (≥ ${(al.threshold * 100).toFixed(0)}%) · ${'★'.repeat(Math.max(1, Math.min(5, Math.round(al.score))))} · v${al.model_version}`;
      const ul = document.createElement('ul');
      fillReasons(ul, al.reasons);
      li.append(head, ul);
      ol.appendChild(li);
    }
    emptyNote(ol, 'no alerts yet');
  } catch (e) { /* retried */ }
}

fill($('category'), CATEGORIES, 'health_beauty');
fill($('cstate'), Object.keys(STATES), 'SP');
fill($('sstate'), Object.keys(STATES), 'SP');
$('is_delivered').addEventListener('change', () => { $('delivered').disabled = !$('is_delivered').checked; });
$('order-form').addEventListener('submit', submit);
pollStats(); pollModels(); pollRecent(); pollOnline(); pollServing(); pollChallenge(); pollDrift(); pollAlerts();
setInterval(pollStats, 1500);
setInterval(pollRecent, 2000);
setInterval(pollModels, 5000);
setInterval(pollOnline, 5000);
setInterval(pollServing, 3000);
setInterval(pollChallenge, 3000);
setInterval(pollDrift, 5000);
setInterval(pollAlerts, 2000);

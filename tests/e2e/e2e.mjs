// End-to-end test of the built app (dist/) in headless Chromium, through playwright-core and
// Debian's /usr/bin/chromium (no browser downloads). Serves dist/ itself on 127.0.0.1.
//
//   node tests/e2e/e2e.mjs [--dist DIR] [--measure SECONDS [--query '&train_size=30000']]
//
// Checks the DOM contract (data-testid attributes) rather than pixels: pretrained predictions
// of drawn strokes, the empty-canvas and bad-upload messages, a short training run (status
// advances, loss falls, the confusion matrix fills, drawing still predicts meanwhile), and the
// IndexedDB restore after a reload. Screenshots go to tests/e2e/screenshots/.
// `--measure S` instead runs the default training settings for S seconds and prints numbers.
import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const dist = path.resolve(opt('--dist', path.join(here, '../../dist')));
const measureSeconds = Number(opt('--measure', '0'));
const shots = path.join(here, 'screenshots');
fs.mkdirSync(shots, { recursive: true });

const MIME = {
  '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json',
};
function serve(root) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = path.join(root, decodeURIComponent(url.pathname));
    if (!file.startsWith(root)) { res.writeHead(403).end(); return; }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    fs.readFile(file, (err, body) => {
      if (err) { res.writeHead(404).end('not found'); return; }
      // .gz files are served as opaque bytes (no Content-Encoding): the app gunzips them itself.
      res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let passed = 0, failed = 0;
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message.split('\n')[0]}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

// Strokes in canvas fractions (0..1); each inner array is one pointer-down..up stroke.
const DIGITS = {
  1: [[[0.52, 0.15], [0.5, 0.5], [0.48, 0.85]]],
  0: [Array.from({ length: 33 }, (_, i) => {
    const a = (i / 32) * 2 * Math.PI;
    return [0.5 + 0.22 * Math.sin(a), 0.5 - 0.32 * Math.cos(a)];
  })],
  7: [[[0.28, 0.2], [0.72, 0.2], [0.58, 0.5], [0.45, 0.85]]],
};

async function draw(page, strokes) {
  const box = await page.locator('[data-testid="draw-canvas"]').boundingBox();
  const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
  for (const stroke of strokes) {
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (const p of stroke.slice(1)) await page.mouse.move(...at(p), { steps: 8 });
    await page.mouse.up();
  }
}
const attr = (page, sel, name) => page.locator(sel).first().getAttribute(name);
const prediction = (page) => attr(page, '[data-testid="prediction"]', 'data-digit');
const status = async (page, name) => attr(page, '[data-testid="train-status"]', `data-${name}`);

async function main() {
  assert(fs.existsSync(path.join(dist, 'index.html')), `no ${dist}/index.html: run trunk build --release`);
  const server = await serve(dist);
  const base = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      // e.g. CHROMIUM_ARGS='--js-flags=--prof' to profile the worker with V8's tick profiler.
      ...(process.env.CHROMIUM_ARGS ?? '').split(' ').filter(Boolean)],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(e.message));

  if (measureSeconds > 0) {
    await measure(page, base, measureSeconds);
    await browser.close(); server.close();
    return;
  }

  await check('first prediction available within 2 s of page load', async () => {
    const t0 = Date.now();
    await page.goto(base);
    await page.locator('[data-testid="model-source"][data-source="pretrained"]').waitFor({ timeout: 20000 });
    const ms = Date.now() - t0;
    const nav = await page.evaluate(() => performance.now());
    console.log(`     model ready ${ms} ms after goto (page clock ${nav.toFixed(0)} ms)`);
    assert(ms <= 2000, `took ${ms} ms`);
  });

  await check('empty canvas shows "draw a digit" and no prediction', async () => {
    assert((await prediction(page)) === '', 'data-digit should be empty');
    const text = await page.locator('[data-testid="prediction"]').innerText();
    assert(/draw a digit/i.test(text), `text was "${text}"`);
  });

  const latencies = [];
  for (const digit of [1, 0, 7]) {
    await check(`pretrained model reads a drawn ${digit}`, async () => {
      await page.locator('[data-testid="clear"]').click();
      await draw(page, DIGITS[digit]);
      await page.waitForFunction((d) => document.querySelector('[data-testid="prediction"]')
        ?.getAttribute('data-digit') !== '', digit, { timeout: 5000 });
      const got = await prediction(page);
      const probs = await Promise.all([...Array(10).keys()].map((d) =>
        attr(page, `[data-testid="prob-${d}"]`, 'data-value').then(Number)));
      latencies.push(Number(await attr(page, '[data-testid="prediction"]', 'data-latency-ms')));
      await page.screenshot({ path: path.join(shots, `digit-${digit}.png`) });
      assert(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 0.01, `probabilities sum to ${probs}`);
      assert(got === String(digit), `predicted ${got} (p=${probs.map((p) => p.toFixed(2))})`);
    });
  }
  // More samples for the latency budget: each stroke end is one timed prediction.
  for (let i = 0; i < 4; i++) {
    await page.locator('[data-testid="clear"]').click();
    await draw(page, DIGITS[1]);
    latencies.push(Number(await attr(page, '[data-testid="prediction"]', 'data-latency-ms')));
  }
  console.log(`     prediction latency (preprocess + forward): ${latencies.map((l) => l.toFixed(2)).join(', ')} ms`);
  // The median, because a shared 2-core machine sometimes stalls single calls (seen: 10-16 ms
  // while other builds and trainings ran, against a typical 5-7 ms).
  await check('one prediction takes at most 10 ms (median)', async () => {
    const median = [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length / 2)];
    assert(median <= 10, `median ${median} ms`);
  });

  await check('Clear empties the prediction', async () => {
    await page.locator('[data-testid="clear"]').click();
    assert((await prediction(page)) === '', 'prediction not cleared');
  });

  await check('a bad upload shows a clear message', async () => {
    await page.locator('[data-testid="upload"]').setInputFiles({
      name: 'bad.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not a model'),
    });
    const err = page.locator('[data-testid="error"]');
    await err.waitFor({ timeout: 5000 });
    const text = await err.innerText();
    assert(/not a usable model/i.test(text) && /safetensors/i.test(text), `message: ${text}`);
    assert((await attr(page, '[data-testid="model-source"]', 'data-source')) === 'pretrained', 'model changed');
    await page.locator('[data-testid="error-dismiss"]').click();
  });

  await check('a failed data fetch shows a message, and Retry recovers', async () => {
    await context.route('**/data/train-images-idx3-ubyte.gz', (route) => route.abort());
    await page.goto(`${base}?train_size=1000&epochs=1&autostart=1`);
    const err = page.locator('[data-testid="error"]');
    await err.waitFor({ timeout: 20000 });
    const text = await err.innerText();
    assert(/MNIST/.test(text) && /train-images/.test(text), `message: ${text}`);
    assert((await status(page, 'state')) === 'error', 'state is not error');
    await context.unroute('**/data/train-images-idx3-ubyte.gz');
    await page.locator('[data-testid="error-retry"]').click();
    await page.locator('[data-testid="train-status"][data-state="training"]').waitFor({ timeout: 30000 });
    await page.locator('[data-testid="train-stop"]').click();
    await page.locator('[data-testid="train-status"][data-state="done"]').waitFor({ timeout: 10000 });
  });

  await check('divergence (NaN loss) shows a message with a retry', async () => {
    await page.goto(`${base}?train_size=1000&epochs=1&lr=100000&autostart=1`);
    const err = page.locator('[data-testid="error"]');
    await err.waitFor({ timeout: 30000 });
    const text = await err.innerText();
    assert(/diverged/i.test(text) && /learning rate/i.test(text), `message: ${text}`);
    assert(/half the learning rate/i.test(await page.locator('[data-testid="error-retry"]').innerText()), 'no retry');
  });

  await check('a crashed worker shows a message, and restarting it works', async () => {
    await page.goto(base);
    await page.locator('[data-testid="model-source"][data-source="pretrained"]').waitFor({ timeout: 10000 });
    for (let i = 0; i < 50 && page.workers().length === 0; i++) await page.waitForTimeout(100);
    // An uncaught error inside the worker, as a wasm trap would raise.
    await page.workers()[0].evaluate(() => { setTimeout(() => { throw new Error('simulated crash'); }, 0); });
    const err = page.locator('[data-testid="error"]');
    await err.waitFor({ timeout: 5000 });
    assert(/worker crashed/i.test(await err.innerText()), await err.innerText());
    await page.locator('[data-testid="error-retry"]').click();
    await page.locator('[data-testid="train-status"][data-state="training"]').waitFor({ timeout: 30000 });
    await page.locator('[data-testid="train-reset"]').click();
    await page.locator('[data-testid="train-status"][data-state="idle"]').waitFor({ timeout: 5000 });
  });

  await check('two workers split the batches; a crashed helper is dropped and the run goes on', async () => {
    await page.goto(`${base}?train_size=20000&epochs=1&workers=2&autostart=1`);
    const st = page.locator('[data-testid="train-status"]');
    const stepAbove = (n) => page.waitForFunction((s) => Number(document.querySelector('[data-testid="train-status"]')
      ?.getAttribute('data-step')) > s, n, { timeout: 20000 });
    await stepAbove(3);
    await page.locator('[data-testid="worker-build"][data-workers="2"]').waitFor({ timeout: 5000 });
    assert(page.workers().length === 2, `${page.workers().length} workers running`);
    // The helper started after the page's worker; an uncaught error in it, as a wasm trap raises.
    await page.workers()[1].evaluate(() => { setTimeout(() => { throw new Error('simulated helper crash'); }, 0); });
    await page.locator('[data-testid="worker-build"][data-workers="1"]').waitFor({ timeout: 10000 });
    assert(/goes on with 1 worker.*crashed/.test(await page.locator('[data-testid="notice"]').innerText()), 'no notice');
    await stepAbove(Number(await st.getAttribute('data-step')) + 3);
    assert((await page.locator('[data-testid="error"]').count()) === 0, 'a dropped helper showed an error');
    assert((await st.getAttribute('data-state')) === 'training', await st.getAttribute('data-state'));
    await page.locator('[data-testid="train-stop"]').click();
    await page.locator('[data-testid="train-status"][data-state="done"]').waitFor({ timeout: 20000 });
  });

  await check('a helper whose module cannot load is dropped at once (Workers field)', async () => {
    // A first run on one worker, so the training worker itself has loaded.
    await page.goto(`${base}?train_size=2000&epochs=1&workers=1&autostart=1`);
    await page.locator('[data-testid="train-status"][data-state="done"]').waitFor({ timeout: 60000 });
    await context.route('**/worker*_bg.wasm', (r) => r.abort());
    try {
      assert(page.workers().length === 1, `${page.workers().length} workers before the run`);
      const field = page.locator('label:has-text("Workers") input');
      await field.fill('2');
      await field.press('Tab');
      const t0 = Date.now();
      await page.locator('[data-testid="train-start"]').click();
      // The page says which helper stopped and why (its module did not load), within seconds:
      // the loader reports the failed load instead of leaving it to the 20 s load deadline.
      const notice = page.locator('[data-testid="notice"]', { hasText: 'goes on with' });
      await notice.waitFor({ timeout: 10000 });
      const text = await notice.innerText();
      assert(/goes on with 1 worker/.test(text) && /could not load/.test(text), text);
      console.log(`     "${text.replace(/\s*×$/, '')}" ${((Date.now() - t0) / 1000).toFixed(1)} s after Start`);
      await page.waitForFunction(() => {
        const st = document.querySelector('[data-testid="train-status"]');
        const wb = document.querySelector('[data-testid="worker-build"]');
        return st?.getAttribute('data-state') === 'training' && Number(st?.getAttribute('data-step')) > 3
          && wb?.getAttribute('data-workers') === '1';
      }, null, { timeout: 10000 });
      assert((await page.locator('[data-testid="error"]').count()) === 0, 'an error banner for a dropped helper');
    } finally {
      await context.unroute('**/worker*_bg.wasm');
    }
    await page.locator('[data-testid="train-stop"]').click();
    await page.locator('[data-testid="train-status"][data-state="done"]').waitFor({ timeout: 20000 });
  });

  await check('a hung helper is dropped after a few seconds and the run goes on', async () => {
    await page.goto(`${base}?train_size=20000&epochs=1&workers=2&autostart=1`);
    const st = page.locator('[data-testid="train-status"]');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="train-status"]')
      ?.getAttribute('data-step')) > 3, null, { timeout: 20000 });
    await page.locator('[data-testid="worker-build"][data-workers="2"]').waitFor({ timeout: 5000 });
    // Busy for a minute, answering nothing (as a helper the browser stopped would).
    await page.workers()[1].evaluate(() => {
      setTimeout(() => { const t = Date.now(); while (Date.now() - t < 60000) { /* hang */ } }, 0);
    });
    const t0 = Date.now();
    await page.locator('[data-testid="worker-build"][data-workers="1"]').waitFor({ timeout: 15000 });
    console.log(`     hung helper dropped after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert(/goes on with 1 worker.*no answer within/.test(await page.locator('[data-testid="notice"]').innerText()), 'no notice');
    const step = Number(await st.getAttribute('data-step'));
    await page.waitForFunction((s) => Number(document.querySelector('[data-testid="train-status"]')
      ?.getAttribute('data-step')) > s + 3, step, { timeout: 10000 });
    await page.locator('[data-testid="train-stop"]').click();
    await page.locator('[data-testid="train-status"][data-state="done"]').waitFor({ timeout: 20000 });
  });

  await check('a short training run advances, learns and fills the confusion matrix', async () => {
    // Large enough that Pause lands mid-run, before the final evaluation of all 10,000 images.
    await page.goto(`${base}?train_size=12000&epochs=1&batch=32&autostart=1`);
    const st = page.locator('[data-testid="train-status"]');
    await page.locator('[data-testid="train-status"][data-state="training"]').waitFor({ timeout: 30000 });
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="train-status"]')
      ?.getAttribute('data-step')) >= 5, null, { timeout: 30000 });
    const step1 = Number(await st.getAttribute('data-step'));
    // By default one worker per core, up to four and one per 2 GB of device memory.
    const cores = await page.evaluate(() => {
      const mem = navigator.deviceMemory ? Math.max(Math.floor(navigator.deviceMemory / 2), 1) : Infinity;
      return Math.min(Math.max(navigator.hardwareConcurrency || 1, 1), 4, mem);
    });
    const workers = await attr(page, '[data-testid="worker-build"]', 'data-workers');
    assert(workers === String(cores), `${workers} workers on ${cores} cores`);
    await page.waitForTimeout(1500);
    const step2 = Number(await st.getAttribute('data-step'));
    assert(step2 > step1 || (await st.getAttribute('data-state')) === 'done', `step stuck at ${step1}`);
    // Pause holds the step; Resume continues.
    await page.locator('[data-testid="train-pause"]').click();
    await page.locator('[data-testid="train-status"][data-state="paused"]').waitFor({ timeout: 5000 });
    const held = await st.getAttribute('data-step');
    await page.waitForTimeout(1000);
    assert((await st.getAttribute('data-step')) === held, 'step moved while paused');
    await page.locator('[data-testid="train-pause"]').click();
    await page.locator('[data-testid="train-status"][data-state="training"]').waitFor({ timeout: 5000 });
    // Drawing still predicts while the worker trains.
    if ((await st.getAttribute('data-state')) === 'training') {
      await draw(page, DIGITS[7]);
      await page.waitForFunction(() => document.querySelector('[data-testid="prediction"]')
        ?.getAttribute('data-digit') !== '', null, { timeout: 3000 });
      console.log(`     during training: predicted ${await prediction(page)} in ${await attr(page, '[data-testid="prediction"]', 'data-latency-ms')} ms, state ${await st.getAttribute('data-state')}`);
      await page.screenshot({ path: path.join(shots, 'training.png'), fullPage: true });
    }
    await page.locator('[data-testid="train-status"][data-state="done"]').waitFor({ timeout: 120000 });
    const chart = page.locator('[data-testid="progress-chart"]');
    const first = Number(await chart.getAttribute('data-first-loss'));
    const last = Number(await chart.getAttribute('data-last-loss'));
    const counts = await page.locator('[data-testid="cm-cell"]').evaluateAll((cells) =>
      cells.map((c) => Number(c.getAttribute('data-count'))));
    const acc = Number(await st.getAttribute('data-test-accuracy'));
    console.log(`     smoothed loss ${first.toFixed(3)} -> ${last.toFixed(3)}, test accuracy ${acc}, ${await st.getAttribute('data-images-per-second')} img/s`);
    assert(last < first * 0.6, 'loss did not fall');
    assert(counts.length === 100, `${counts.length} cells`);
    // The last evaluation of a run scores the whole MNIST test set.
    assert(counts.reduce((a, b) => a + b, 0) === 10000, 'confusion matrix not filled with the test set');
    assert((await st.getAttribute('data-test-images')) === '10000', 'final accuracy not on all test images');
    assert(acc > 0.8, `accuracy ${acc}`);
    assert((await attr(page, '[data-testid="model-source"]', 'data-source')) === 'trained', 'not using trained model');
  });

  await check('clicking a confusion cell shows its test images', async () => {
    const cell = page.locator('[data-testid="cm-cell"][data-true="3"][data-pred="3"]');
    await cell.click();
    const n = await page.locator('[data-testid="cell-examples"] canvas').count();
    assert(n > 0, 'no example images');
    await page.screenshot({ path: path.join(shots, 'desktop.png'), fullPage: true });
  });

  await check('the relaxed-SIMD worker runs where supported; ?simd=plain runs the fallback', async () => {
    // yew-agent starts workers from blob: URLs, so which build runs is read off the requests.
    const requested = [];
    const onRequest = (r) => requested.push(new URL(r.url()).pathname);
    page.on('request', onRequest);
    const build = () => attr(page, '[data-testid="worker-build"]', 'data-build');
    const fetchedWorkers = async () => {
      for (let i = 0; i < 100 && !requested.some((u) => /_bg\.wasm$/.test(u) && /worker/.test(u)); i++) {
        await page.waitForTimeout(100);
      }
      return requested.filter((u) => /worker/.test(u)).join(' ');
    };
    try {
      // Chromium has relaxed SIMD, so the default page must pick the faster worker build.
      await page.goto(base);
      await page.locator('[data-testid="model-source"][data-source="pretrained"]').waitFor({ timeout: 10000 });
      let fetched = await fetchedWorkers();
      assert((await build()) === 'relaxed-simd', `default build ${await build()}`);
      assert(/worker-relaxed_bg\.wasm/.test(fetched) && !/\/worker_bg\.wasm/.test(fetched), `fetched ${fetched}`);
      // The fallback that browsers without relaxed SIMD get trains a short run to the end.
      requested.length = 0;
      await page.goto(`${base}?simd=plain&train_size=2000&epochs=1&autostart=1`);
      await page.locator('[data-testid="train-status"][data-state="done"]').waitFor({ timeout: 60000 });
      fetched = await fetchedWorkers();
      assert((await build()) === 'simd128', `forced build ${await build()}`);
      assert(/\/worker_bg\.wasm/.test(fetched) && !/relaxed/.test(fetched), `fetched ${fetched}`);
      const acc = Number(await status(page, 'test-accuracy'));
      console.log(`     plain simd128 worker: 2,000 images, test accuracy ${acc}`);
      assert(acc > 0.8, `accuracy ${acc}`);
    } finally {
      page.off('request', onRequest);
    }
  });

  await check('the final scoring of the test set shows progress, and Stop answers during it', async () => {
    // The seed model scores the 10,000 test images in ~15 s here: long enough to catch.
    await page.goto(`${base}?train_size=200&epochs=1&batch=64&width=seed&autostart=1`);
    const st = page.locator('[data-testid="train-status"]');
    // A count above 0: the scoring advances a slice at a time.
    await page.waitForFunction(() => /scoring .* [1-9]\d*\/10000 images/.test(
      document.querySelector('[data-testid="train-status"]')?.textContent ?? ''), null, { timeout: 60000 });
    console.log(`     ${(await st.innerText()).split('\n')[0]}`);
    const t0 = Date.now();
    await page.locator('[data-testid="train-stop"]').click();
    await page.locator('[data-testid="train-status"][data-state="done"]').waitFor({ timeout: 10000 });
    const waited = (Date.now() - t0) / 1000;
    assert(waited < 5, `Stop took ${waited} s during scoring`);
    // Stopped mid-scoring: the quick evaluation answers, on the first 1,000 images.
    assert((await st.getAttribute('data-test-images')) === '1000', 'stop did not report the quick evaluation');
  });

  await check('the browser-trained model is restored after a reload', async () => {
    await page.goto(base);
    await page.locator('[data-testid="notice"]').waitFor({ timeout: 10000 });
    await page.locator('[data-testid="use-trained"]').click();
    assert((await attr(page, '[data-testid="model-source"]', 'data-source')) === 'trained', 'not switched');
  });

  await check('the page is usable at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(base);
    await page.locator('[data-testid="model-source"][data-source="pretrained"]').waitFor({ timeout: 10000 });
    await draw(page, DIGITS[7]);
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    await page.screenshot({ path: path.join(shots, 'phone.png'), fullPage: true });
    assert(scrollWidth <= 392, `page is ${scrollWidth} px wide`);
  });

  await check('no uncaught errors in the console', async () => {
    const real = consoleErrors.filter((e) => !/favicon|simulated crash/.test(e));
    assert(real.length === 0, real.join(' | '));
  });

  await browser.close();
  server.close();
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// Default settings, `seconds` of training: the numbers in README.md (Results, Performance).
async function measure(page, base, seconds) {
  const url = `${base}?autostart=1${opt('--query', '')}`;
  const tLoad = Date.now();
  await page.goto(url);
  await page.locator('[data-testid="train-status"][data-state="training"]').waitFor({ timeout: 60000 });
  const t0 = Date.now();
  console.log(`page load to first training step: ${((t0 - tLoad) / 1000).toFixed(1)} s (fetching and decoding MNIST included); times below count from there`);
  const st = page.locator('[data-testid="train-status"]');
  const a = (name) => st.getAttribute(`data-${name}`);
  // Polls every 0.25 s, so the time of "done" is exact to that; prints every 5 s and at the end.
  for (let next = 5; ;) {
    await page.waitForTimeout(250);
    const t = (Date.now() - t0) / 1000;
    const s = await a('state');
    const end = s === 'done' || s === 'error' || t >= seconds;
    if (t >= next || end) {
      console.log(`${t.toFixed(1)} s: ${s} epoch ${await a('epoch')} step ${await a('step')} ${await a('images-per-second')} img/s acc ${await a('test-accuracy')} on ${await a('test-images')} test images`);
      next += 5;
    }
    if (end) break;
  }
  console.log(`measured with ${url} (worker build ${await page.locator('[data-testid="worker-build"]').getAttribute('data-build')})`);
}

main().catch((e) => { console.error(e); process.exit(1); });

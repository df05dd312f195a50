// End-to-end test of the built app (dist/) in headless Chromium, through playwright-core and
// Debian's /usr/bin/chromium (no browser downloads). Serves dist/ itself on 127.0.0.1.
//
//   node tests/e2e/e2e.mjs [--dist DIR] [--only SUITE,...] [--measure SECONDS [--query '&train_size=30000']]
//
// Checks the DOM contract (data-testid attributes) rather than pixels; the suites are the
// suite-*.mjs files, run in order on one browser context (IndexedDB persists across them).
// Screenshots go to tests/e2e/screenshots/. `--measure S` instead runs the default training
// settings for S seconds and prints numbers.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, checker, serve } from './lib.mjs';

const SUITES = ['basics', 'models', 'inside', 'handwriting', 'failures', 'parallel', 'training', 'phone'];

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const dist = path.resolve(opt('--dist', path.join(here, '../../dist')));
const measureSeconds = Number(opt('--measure', '0'));
const only = opt('--only', '') ? opt('--only', '').split(',') : SUITES;
const shots = path.join(here, 'screenshots');
fs.mkdirSync(shots, { recursive: true });

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

  const check = checker();
  for (const name of only) {
    assert(SUITES.includes(name), `no suite ${name} (have ${SUITES.join(', ')})`);
    const suite = await import(`./suite-${name}.mjs`);
    await suite.run({ page, context, browser, base, shots, check });
  }

  await check('no uncaught errors in the console', async () => {
    const real = consoleErrors.filter((e) => !/favicon|simulated crash|QuotaExceeded/.test(e));
    assert(real.length === 0, real.join(' | '));
  });

  await browser.close();
  server.close();
  console.log(`e2e: ${check.passed} passed, ${check.failed} failed`);
  process.exit(check.failed ? 1 : 0);
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

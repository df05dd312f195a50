// A short run end to end (status, Pause, drawing meanwhile, matrix), both worker builds, the final scoring, restore and phone width.
import path from 'node:path';
import { assert, attr, draw, DIGITS, prediction, status, modelReady } from './lib.mjs';

export async function run({ page, context, base, shots, check }) {
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
      await modelReady(page, 10000);
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

}

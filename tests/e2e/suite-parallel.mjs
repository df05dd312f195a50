// Data-parallel training across workers, and helpers that crash, hang or never load.
import path from 'node:path';
import { assert, attr } from './lib.mjs';

export async function run({ page, context, base, shots, check }) {
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
}

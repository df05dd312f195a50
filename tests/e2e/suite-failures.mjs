// Failures with a way out: MNIST not loading (Retry), divergence, a crashed worker.
import path from 'node:path';
import { assert, status, modelReady } from './lib.mjs';

export async function run({ page, context, base, shots, check }) {
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
    await modelReady(page, 10000);
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
}

// The pretrained model on drawn digits: first prediction, answers, latency, Clear, a bad upload.
import path from 'node:path';
import { assert, attr, draw, DIGITS, prediction } from './lib.mjs';

export async function run({ page, context, base, shots, check }) {
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
}

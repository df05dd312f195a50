// A phone: Chromium's mobile emulation (390x844 CSS pixels, touch, device scale factor 3). Digits
// drawn with real touch input (CDP touch events, which the page receives as pointer events of type
// "touch") are read right; the page never scrolls sideways, and every control can be reached.
import path from 'node:path';
import { assert, DIGITS, modelReady, prediction } from './lib.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };

/** One finger drawing `strokes` (canvas fractions) on the pad. */
async function touchDraw(page, cdp, strokes) {
  const canvas = page.locator('[data-testid="draw-canvas"]');
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  const at = ([x, y]) => ({ x: box.x + x * box.width, y: box.y + y * box.height });
  for (const stroke of strokes) {
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [at(stroke[0])] });
    for (let i = 1; i < stroke.length; i++) {
      // Eight moves between the stroke's points, as a finger reports them.
      for (let k = 1; k <= 8; k++) {
        const [x0, y0] = stroke[i - 1], [x1, y1] = stroke[i];
        const t = k / 8;
        await cdp.send('Input.dispatchTouchEvent', {
          type: 'touchMove', touchPoints: [at([x0 + (x1 - x0) * t, y0 + (y1 - y0) * t])],
        });
      }
    }
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  }
}

export async function run({ browser, base, shots, check }) {
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  try {
    await check('touch drawing on a phone predicts the drawn digits', async () => {
      await page.goto(base);
      await modelReady(page);
      for (const digit of [7, 1, 0]) {
        // A finger needs ~100 ms to go from the pad to Clear; a synthetic tap sent the moment the
        // stroke's touchEnd is delivered is merged into the previous gesture by Chromium.
        // The pad must be empty before the next digit: if Chromium merged the tap into the last
        // gesture (seen on a loaded machine even after 100 ms), tap again.
        const cleared = () => page.waitForFunction(() => document.querySelector('[data-testid="prediction"]')
          ?.getAttribute('data-digit') === '', null, { timeout: 1000 }).then(() => true, () => false);
        let empty = false;
        for (let attempt = 0; attempt < 3 && !empty; attempt++) {
          await page.waitForTimeout(100);
          await page.locator('[data-testid="clear"]').tap();
          empty = await cleared();
        }
        assert(empty, 'Clear did not empty the pad after three taps');
        await touchDraw(page, cdp, DIGITS[digit]);
        await page.waitForFunction(() => document.querySelector('[data-testid="prediction"]')
          ?.getAttribute('data-digit') !== '', null, { timeout: 5000 });
        const got = await prediction(page);
        assert(got === String(digit), `drew ${digit} with touch, read ${got}`);
      }
      // The page did not scroll while the finger moved on the pad.
      assert((await page.evaluate(() => window.scrollX)) === 0, 'scrolled sideways');
      await page.screenshot({ path: path.join(shots, 'phone-touch.png'), fullPage: false });
    });

    await check('at phone width nothing scrolls sideways and every control is reachable', async () => {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert(width <= 390, `page is ${width} px wide`);
      const controls = page.locator('button:visible, input:visible, select:visible, label.button:visible');
      const n = await controls.count();
      assert(n > 15, `only ${n} controls`);
      const outside = [];
      for (let i = 0; i < n; i++) {
        const c = controls.nth(i);
        await c.scrollIntoViewIfNeeded();
        const b = await c.boundingBox();
        if (!b || b.x < 0 || b.x + b.width > 390.5 || b.width < 1) {
          outside.push((await c.getAttribute('data-testid')) ?? (await c.innerText()).slice(0, 20));
        }
      }
      assert(outside.length === 0, `controls outside the screen: ${outside.join(', ')}`);
      await page.screenshot({ path: path.join(shots, 'phone.png'), fullPage: true });
    });
  } finally {
    await context.close();
  }
}

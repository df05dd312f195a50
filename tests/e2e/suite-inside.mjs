// Look inside the network, and digits of any size. The panel fills for a drawn digit with every
// conv layer and pool, with the right channel counts and shapes, for the seed model and the small
// one; predictions stay within budget with it. Digits of the shared vector font
// (assets/digit-strokes.json), replayed as pointer strokes at small, medium and large sizes, are
// read as reliably small as large.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, attr, draw, DIGITS, modelReady, prediction } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const FONT = JSON.parse(fs.readFileSync(path.join(here, '../../assets/digit-strokes.json'), 'utf8')).digits;

/** A seeded generator in 0..1 (mulberry32), so every run draws the same digits. */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A font style placed on the pad (fractions 0..1) at `height` of it, rotated and sheared a
 *  little, anywhere it fits. */
function place(strokes, height, rand) {
  const rot = (rand() - 0.5) * (20 * Math.PI / 180), shear = (rand() - 0.5) * 0.3;
  const pts = strokes.flat();
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const s = height / Math.max(y1 - y0, 1e-3);
  const w = (x1 - x0) * s;
  const cx = 0.06 + w / 2 + rand() * Math.max(0, 0.88 - w), cy = 0.06 + height / 2 + rand() * Math.max(0, 0.88 - height);
  return strokes.map((stroke) => stroke.map(([x, y]) => {
    let u = (x - (x0 + x1) / 2) * s, v = (y - (y0 + y1) / 2) * s;
    u += shear * v;
    return [cx + u * Math.cos(rot) - v * Math.sin(rot), cy + u * Math.sin(rot) + v * Math.cos(rot)];
  }));
}

const layers = (page) => page.locator('[data-testid="layer"]').evaluateAll((els) => els.map((e) =>
  [e.getAttribute('data-layer'), Number(e.getAttribute('data-channels')), Number(e.getAttribute('data-height')), Number(e.getAttribute('data-width'))]));

async function panelFor(page, digit) {
  await page.locator('[data-testid="clear"]').click();
  await draw(page, DIGITS[digit]);
  await page.waitForFunction(() => {
    const d = document.querySelector('[data-testid="prediction"]')?.getAttribute('data-digit');
    return d !== '' && document.querySelector('[data-testid="inside"]')?.getAttribute('data-digit') === d;
  }, null, { timeout: 5000 });
}

export async function run({ page, base, shots, check }) {
  await check('the look-inside panel fills for a drawn digit: every layer and pool, filters, saliency (seed model)', async () => {
    await page.goto(base);
    await modelReady(page);
    await page.locator('[data-testid="model-entry"][data-id="pretrained"] [data-testid="model-use"]:not([disabled])')
      .click({ timeout: 2000 }).catch(() => {}); // already in use on a first visit
    await panelFor(page, 7);
    const got = await layers(page);
    const want = [['block1.conv1', 32, 28, 28], ['block1.conv2', 32, 28, 28], ['pool1', 32, 14, 14],
      ['block2.conv1', 64, 14, 14], ['block2.conv2', 64, 14, 14], ['pool2', 64, 7, 7]];
    assert(JSON.stringify(got) === JSON.stringify(want), JSON.stringify(got));
    const size = (id) => page.locator(`canvas[data-testid="${id}"]`).evaluate((c) => [c.width, c.height]);
    assert(JSON.stringify(await size('saliency')) === '[28,28]', `saliency ${await size('saliency')}`);
    assert(JSON.stringify(await size('filters')) === JSON.stringify([8 * 4 - 1, 4 * 4 - 1]), `filters ${await size('filters')}`);
    // The heat maps are not blank: the first layer's tiles hold more than one colour.
    const colours = await page.locator('[data-testid="layer"][data-layer="block1.conv1"] canvas').evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
      return seen.size;
    });
    assert(colours > 20, `${colours} colours in the first layer's maps`);
    assert(/3,136 inputs/.test(await page.locator('[data-testid="logits"]').innerText()), 'head size');
    const ms = Number(await attr(page, '[data-testid="inside"]', 'data-explain-ms'));
    console.log(`     explanation of the seed model took ${ms.toFixed(2)} ms; prediction ${await attr(page, '[data-testid="prediction"]', 'data-latency-ms')} ms`);
    await page.locator('[data-testid="inside"]').screenshot({ path: path.join(shots, 'inside.png') });
  });

  await check('predictions stay within 10 ms (median) with the panel live', async () => {
    const latencies = [];
    for (let i = 0; i < 7; i++) {
      await panelFor(page, [1, 0, 7][i % 3]);
      latencies.push(Number(await attr(page, '[data-testid="prediction"]', 'data-latency-ms')));
    }
    const median = [...latencies].sort((a, b) => a - b)[3];
    console.log(`     latencies ${latencies.map((l) => l.toFixed(2)).join(', ')} ms`);
    assert(median <= 10, `median ${median} ms`);
  });

  await check('small digits are read as reliably as large ones (font strokes replayed as pointer input)', async () => {
    const rand = rng(7);
    const sizes = { small: [0.2, 0.33], medium: [0.4, 0.6], large: [0.7, 0.9] };
    const right = {};
    for (const [name, [lo, hi]] of Object.entries(sizes)) {
      right[name] = 0;
      for (let i = 0; i < 12; i++) {
        const { digit, styles } = FONT[i % 10];
        const style = styles[Math.floor(rand() * styles.length)];
        await page.locator('[data-testid="clear"]').click();
        // The font's points are dense (about 1.5 % of the glyph apart): every other one, as a
        // pointer reports a quick pen, with no moves in between.
        const strokes = style.strokes.map((s) => s.filter((_, k) => k % 2 === 0 || k === s.length - 1));
        await draw(page, place(strokes, lo + rand() * (hi - lo), rand), 1);
        await page.waitForFunction(() => document.querySelector('[data-testid="prediction"]')
          ?.getAttribute('data-digit') !== '', null, { timeout: 5000 });
        if ((await prediction(page)) === String(digit)) right[name]++;
      }
    }
    console.log(`     read right of 12: ${JSON.stringify(right)}`);
    await page.screenshot({ path: path.join(shots, 'small-digit.png') });
    assert(right.small >= 11 && right.small >= right.large - 1, JSON.stringify(right));
  });

  await check('the panel follows the model: the small model shows 8 and 16 channels', async () => {
    await page.goto(`${base}?train_size=2000&epochs=1&autostart=1`);
    await page.locator('[data-testid="train-status"][data-state="done"]').waitFor({ timeout: 60000 });
    await panelFor(page, 1);
    const got = (await layers(page)).map(([n, c, h]) => `${n}:${c}x${h}`).join(' ');
    assert(got === 'block1.conv1:8x28 block1.conv2:8x28 pool1:8x14 block2.conv1:16x14 block2.conv2:16x14 pool2:16x7', got);
  });
}

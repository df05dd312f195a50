// Shared pieces of the end-to-end tests: a static server for dist/, the check runner, pointer
// strokes and DOM-contract readers. Each suite (suite-*.mjs) exports `run(ctx)`, where
// ctx = { page, context, browser, base, shots, check }.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const MIME = {
  '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json',
};
export function serve(root) {
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

/** Runs named checks, counting passes and failures (`check.passed`, `check.failed`). */
export function checker() {
  const check = async (name, fn) => {
    const t0 = Date.now();
    try {
      await fn();
      check.passed++;
      console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      check.failed++;
      console.log(`FAIL ${name}: ${e.message.split('\n')[0]}`);
    }
  };
  check.passed = 0;
  check.failed = 0;
  return check;
}
export function assert(cond, msg) { if (!cond) throw new Error(msg); }
/** Waits until a model predicts (whichever the page restored: the shipped one on a first visit). */
export const modelReady = (page, timeout = 20000) => page
  .locator('[data-testid="model-source"][data-source]:not([data-source=""])').waitFor({ timeout });

// Strokes in canvas fractions (0..1); each inner array is one pointer-down..up stroke.
export const DIGITS = {
  1: [[[0.52, 0.15], [0.5, 0.5], [0.48, 0.85]]],
  0: [Array.from({ length: 33 }, (_, i) => {
    const a = (i / 32) * 2 * Math.PI;
    return [0.5 + 0.22 * Math.sin(a), 0.5 - 0.32 * Math.cos(a)];
  })],
  7: [[[0.28, 0.2], [0.72, 0.2], [0.58, 0.5], [0.45, 0.85]]],
};

export async function draw(page, strokes, steps = 8) {
  const box = await page.locator('[data-testid="draw-canvas"]').boundingBox();
  const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
  for (const stroke of strokes) {
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (const p of stroke.slice(1)) await page.mouse.move(...at(p), { steps });
    await page.mouse.up();
  }
}
export const attr = (page, sel, name) => page.locator(sel).first().getAttribute(name);
export const prediction = (page) => attr(page, '[data-testid="prediction"]', 'data-digit');
export const status = async (page, name) => attr(page, '[data-testid="train-status"]', `data-${name}`);


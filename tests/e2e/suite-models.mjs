// The model list (issue: a user's work is never lost) and the confusion matrix of whichever model
// predicts: the shipped model's matrix at page load, uploads scored in the worker, runs that never
// overwrite each other, delete with undo, a reload that restores list and selection, a damaged
// stored record, a storage quota error, an oversized upload, and the per-device worker cap.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, draw, DIGITS, modelReady } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const shipped = path.join(here, '../../www/model/vgg-mnist.safetensors');

const matrix = (page) => page.locator('[data-testid="confusion-matrix"]');
const matrixSum = (page) => page.locator('[data-testid="cm-cell"]').evaluateAll((cells) =>
  cells.reduce((a, c) => a + Number(c.getAttribute('data-count')), 0));
const entries = (page) => page.locator('[data-testid="model-entry"]').evaluateAll((els) => els.map((e) => ({
  id: e.getAttribute('data-id'), kind: e.getAttribute('data-kind'), selected: e.getAttribute('data-selected'),
  accuracy: e.getAttribute('data-test-accuracy'), images: e.getAttribute('data-test-images'),
})));
const entry = (page, id) => page.locator(`[data-testid="model-entry"][data-id="${id}"]`);
const selectedId = async (page) => (await entries(page)).find((e) => e.selected === 'true')?.id;
const ready = (page) => modelReady(page);

/** Deletes every stored model, so the suite starts from a known list. */
async function clearStorage(page) {
  await page.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase('vgg-mnist');
    req.onsuccess = resolve; req.onerror = reject; req.onblocked = resolve;
  }));
}

export async function run({ page, base, shots, check }) {
  await check('the confusion matrix shows the shipped model on all 10,000 test images at page load', async () => {
    await page.goto(base);
    await clearStorage(page);
    await page.goto(base);
    await ready(page);
    await page.locator('[data-testid="confusion-matrix"][data-images="10000"]').waitFor({ timeout: 10000 });
    assert((await matrix(page).getAttribute('data-model')) === 'pretrained', 'data-model');
    assert((await matrixSum(page)) === 10000, `sum ${await matrixSum(page)}`);
    const caption = await page.locator('[data-testid="matrix-caption"]').innerText();
    assert(/Pretrained/.test(caption) && /10,000 test images/.test(caption), caption);
    // Per-class figures and the examples of a cell, before any training.
    assert(/precision/.test(await page.locator('.per-class').innerText()), 'no per-class table');
    await page.locator('[data-testid="cm-cell"][data-true="9"][data-pred="4"]').click();
    await page.locator('[data-testid="cell-examples"] canvas').first().waitFor({ timeout: 10000 });
    await page.screenshot({ path: path.join(shots, 'matrix-at-load.png'), fullPage: true });
  });

  await check('an upload is a new model, scored in the worker with a progress line; switching switches the matrix', async () => {
    await page.locator('[data-testid="upload"]').setInputFiles({
      name: 'my-model.safetensors', mimeType: 'application/octet-stream', buffer: fs.readFileSync(shipped),
    });
    await page.locator('[data-testid="model-entry"][data-kind="uploaded"][data-selected="true"]').waitFor({ timeout: 10000 });
    await page.locator('[data-testid="matrix-scoring"]').waitFor({ timeout: 20000 });
    console.log(`     ${(await page.locator('[data-testid="matrix-scoring"]').innerText()).trim()}`);
    await page.locator('[data-testid="confusion-matrix"][data-model="uploaded"][data-images="10000"]').waitFor({ timeout: 90000 });
    assert((await matrixSum(page)) === 10000, 'uploaded matrix not full');
    const uploaded = (await entries(page)).find((e) => e.kind === 'uploaded');
    // The shipped weights: 99.61 % natively; the browser rounds differently, so a few images may flip.
    assert(Number(uploaded.accuracy) >= 0.995 && uploaded.images === '10000', JSON.stringify(uploaded));
    await entry(page, 'pretrained').locator('[data-testid="model-use"]').click();
    await page.locator('[data-testid="confusion-matrix"][data-model="pretrained"][data-images="10000"]').waitFor({ timeout: 5000 });
  });

  let firstRun;
  await check('each run is its own entry: a second run, and one stopped after a second, overwrite nothing', async () => {
    // Large enough that a second run of the same settings is still training a second after Start.
    await page.goto(`${base}?train_size=12000&epochs=1&autostart=1`);
    await page.locator('[data-testid="train-status"][data-state="done"]').waitFor({ timeout: 60000 });
    const afterOne = await entries(page);
    const runs = afterOne.filter((e) => e.kind === 'trained');
    assert(runs.length === 1, `${runs.length} trained entries after one run`);
    firstRun = runs[0];
    assert(firstRun.selected === 'true' && firstRun.images === '10000', JSON.stringify(firstRun));
    // A second run, stopped after a second: a new entry; the first keeps its weights and score.
    await page.locator('[data-testid="train-start"]').click();
    await page.locator('[data-testid="train-status"][data-state="training"]').waitFor({ timeout: 30000 });
    await page.waitForTimeout(1000);
    await page.locator('[data-testid="train-stop"]').click();
    await page.locator('[data-testid="train-status"][data-state="done"]').waitFor({ timeout: 10000 });
    const afterTwo = await entries(page);
    const again = afterTwo.filter((e) => e.kind === 'trained');
    assert(again.length === 2, `${again.length} trained entries after two runs`);
    const first = again.find((e) => e.id === firstRun.id);
    assert(first.accuracy === firstRun.accuracy && first.images === '10000', `first run changed: ${JSON.stringify(first)}`);
    assert(again.find((e) => e.id !== firstRun.id).selected === 'true', 'the stopped run is not the one in use');
    assert(afterTwo.some((e) => e.kind === 'uploaded') && afterTwo.some((e) => e.kind === 'pretrained'), 'models lost');
  });

  await check('a reload restores the list and the selected model', async () => {
    await entry(page, firstRun.id).locator('[data-testid="model-use"]').click();
    const before = await entries(page);
    await page.goto(base);
    await ready(page);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="model-entry"]').length === n,
      before.length, { timeout: 10000 });
    await page.waitForFunction((id) => document.querySelector(`[data-testid="model-entry"][data-id="${id}"]`)
      ?.getAttribute('data-selected') === 'true', firstRun.id, { timeout: 10000 });
    const after = await entries(page);
    assert(JSON.stringify(after) === JSON.stringify(before), `${JSON.stringify(after)} vs ${JSON.stringify(before)}`);
    assert((await matrix(page).getAttribute('data-model')) === 'trained', 'matrix of another model');
    await draw(page, DIGITS[1]);
    await page.waitForFunction(() => document.querySelector('[data-testid="prediction"]')?.getAttribute('data-digit') !== '', null, { timeout: 5000 });
    await page.screenshot({ path: path.join(shots, 'model-history.png'), fullPage: true });
  });

  await check('delete asks nothing, offers Undo, and a deleted model stays deleted after a reload', async () => {
    const uploaded = (await entries(page)).find((e) => e.kind === 'uploaded');
    await entry(page, uploaded.id).locator('[data-testid="model-delete"]').click();
    assert((await entry(page, uploaded.id).count()) === 0, 'still listed');
    await page.locator('[data-testid="model-undo"]').click();
    await entry(page, uploaded.id).waitFor({ timeout: 5000 });
    await entry(page, uploaded.id).locator('[data-testid="model-delete"]').click();
    assert((await entry(page, 'pretrained').locator('[data-testid="model-delete"]').count()) === 0, 'pretrained deletable');
    await page.waitForTimeout(500); // the write is asynchronous
    await page.goto(base);
    await ready(page);
    await entry(page, firstRun.id).waitFor({ timeout: 10000 });
    assert((await entry(page, uploaded.id).count()) === 0, 'the deleted model came back');
  });

  await check('a damaged stored model is named and skipped, the page works, and it can be deleted', async () => {
    await page.evaluate(() => new Promise((resolve, reject) => {
      const open = indexedDB.open('vgg-mnist', 2);
      open.onsuccess = () => {
        const tx = open.result.transaction('models', 'readwrite');
        tx.objectStore('models').put({ meta: '{"entry": 1', weights: new Uint8Array(10) }, 'trained-999');
        tx.oncomplete = () => { open.result.close(); resolve(); };
        tx.onerror = reject;
      };
      open.onerror = reject;
    }));
    await page.goto(base);
    await ready(page);
    const notice = page.locator('[data-testid="notice"]');
    await notice.waitFor({ timeout: 10000 });
    const text = await notice.innerText();
    assert(/trained-999/.test(text) && /could not be read/.test(text), text);
    const broken = page.locator('[data-testid="model-broken"][data-id="trained-999"]');
    assert(/unreadable description/.test(await broken.innerText()), await broken.innerText());
    await page.locator('[data-testid="clear"]').click();
    await draw(page, DIGITS[7]);
    await page.waitForFunction(() => document.querySelector('[data-testid="prediction"]')?.getAttribute('data-digit') === '7', null, { timeout: 5000 });
    await broken.locator('[data-testid="model-delete"]').click();
    await page.waitForTimeout(500);
    await page.goto(base);
    await ready(page);
    // The list is restored (the first run is back) before its absence means anything.
    await entry(page, firstRun.id).waitFor({ timeout: 10000 });
    assert((await page.locator('[data-testid="model-broken"]').count()) === 0, 'the damaged record came back');
  });

  await check('a full storage quota is shown, and the model is still used', async () => {
    await page.evaluate(() => {
      IDBObjectStore.prototype.put = function () { throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); };
    });
    await page.locator('[data-testid="upload"]').setInputFiles({
      name: 'quota.safetensors', mimeType: 'application/octet-stream', buffer: fs.readFileSync(shipped),
    });
    const err = page.locator('[data-testid="error"]');
    await err.waitFor({ timeout: 10000 });
    const text = await err.innerText();
    assert(/save/i.test(text) && /QuotaExceededError/.test(text) && /quota\.safetensors/.test(text), text);
    assert((await entries(page)).some((e) => e.kind === 'uploaded' && e.selected === 'true'), 'upload not in use');
    await page.locator('[data-testid="error-dismiss"]').click();
  });

  await check('an upload larger than any checkpoint is refused before it is read', async () => {
    await page.goto(base);
    await ready(page);
    const before = (await entries(page)).length;
    await page.evaluate(() => {
      const input = document.querySelector('input[data-testid="upload"]');
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(80_000_000)], 'huge.safetensors'));
      input.files = dt.files;
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    const err = page.locator('[data-testid="error"]');
    await err.waitFor({ timeout: 5000 });
    const text = await err.innerText();
    assert(/huge\.safetensors is 80 MB/.test(text) && /at most 8\.1 MB/.test(text), text);
    assert((await entries(page)).length === before, 'the list changed');
    await page.locator('[data-testid="error-dismiss"]').click();
  });

  await check('?workers=8 stays within the memory budget (2 GB device: one worker)', async () => {
    const p2 = await page.context().newPage();
    await p2.addInitScript(() => Object.defineProperty(Navigator.prototype, 'deviceMemory', { get: () => 2 }));
    await p2.goto(`${base}?workers=8`);
    const field = p2.locator('label:has-text("Workers") input');
    await field.waitFor({ timeout: 10000 });
    assert((await field.inputValue()) === '1', `workers field ${await field.inputValue()}`);
    await p2.close();
  });
}

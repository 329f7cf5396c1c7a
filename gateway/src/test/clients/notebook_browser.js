// A person at the classic Jupyter Notebook page (notebook 6, gateway mode, kernels in the gateway), in headless
// Chromium: types cells and presses Shift+Enter, watches the outputs appear, interrupts a loop with the toolbar
// button, restarts from the toolbar and its dialog, saves. Prints PASS lines; exits non-zero on the first failure.
// usage: node notebook_browser.js NOTEBOOK_URL (with ?token=...) USER_DATA_DIR
const { check, run } = require('./browser');

const [notebookUrl, userDataDir] = process.argv.slice(2);
const WAIT = 120_000;

// Types into the last code cell and runs it; running the last cell adds a fresh one below it. The cell is
// named by its index: a locator for "the last cell" would move on to the fresh one.
async function typeAndRun(page, code) {
  const cells = page.locator('.cell.code_cell');
  const cell = cells.nth(await cells.count() - 1);
  await cell.locator('.CodeMirror').click();
  await page.keyboard.insertText(code);
  await page.keyboard.press('Shift+Enter');
  return cell;
}

async function kernelIdle(page) {
  await page.waitForSelector('#kernel_indicator_icon.kernel_idle_icon', { timeout: WAIT });
}

async function outputOf(cell) {
  return (await cell.locator('.output_area').allInnerTexts()).join('\n');
}

async function waitForOutput(cell, pattern) {
  const deadline = Date.now() + WAIT;
  let text = '';
  while (Date.now() < deadline) {
    text = await outputOf(cell);
    if (pattern.test(text)) {
      return text;
    }
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error('no output matching ' + pattern + ' in time; the cell shows: ' + JSON.stringify(text));
}

async function session(page) {
  await page.goto(notebookUrl, { waitUntil: 'domcontentloaded', timeout: WAIT });
  await kernelIdle(page);
  console.log('PASS the notebook opened and its kernel is idle');

  let cell = await typeAndRun(page, "x = 6 * 7\nprint('hello from the sandbox', x)");
  await waitForOutput(cell, /hello from the sandbox 42/);
  cell = await typeAndRun(page, 'import platform\nprint(platform.release())');
  const release = await waitForOutput(cell, /\d+\.\d+/);
  check(release.trim() === '4.4.0', "the cell runs on gVisor's kernel, not the host's: " + release);
  console.log('PASS a print cell shows its output on the page, from inside gVisor');

  cell = await typeAndRun(page, 'import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()');
  const img = cell.locator('.output_png img');
  await img.waitFor({ timeout: WAIT });
  const size = await img.evaluate(i => [i.complete, i.naturalWidth, i.naturalHeight]);
  check(size[0] && size[1] > 100 && size[2] > 100, 'the plot is a decoded image: ' + size);
  console.log('PASS a plot cell shows its figure as an image (' + size[1] + 'x' + size[2] + ')');

  cell = await typeAndRun(page, 'import time\nfor i in range(100000):\n    print(i, flush=True)\n    time.sleep(0.1)');
  await waitForOutput(cell, /\b3\b/);
  await page.click('button[data-jupyter-action="jupyter-notebook:interrupt-kernel"]');
  await waitForOutput(cell, /KeyboardInterrupt/);
  await kernelIdle(page);
  const printed = (await outputOf(cell)).match(/^\d+$/gm) || [];
  check(printed.length < 1000, 'the loop stopped at the interrupt: ' + printed.length + ' lines');
  console.log('PASS the interrupt button stopped a running loop after ' + printed.length + ' lines');

  await page.click('button[data-jupyter-action="jupyter-notebook:confirm-restart-kernel"]');
  await page.locator('.modal-dialog button', { hasText: 'Restart' }).click();
  await kernelIdle(page);
  // x, set before the restart, is gone: this is a new kernel process
  cell = await typeAndRun(page, "y = 5\nprint('x' in globals(), 1 + 1)");
  await waitForOutput(cell, /False 2/);
  console.log('PASS the restart button gave a fresh kernel that runs cells');

  await page.keyboard.press('Escape');
  const saved = page.waitForResponse(r => r.request().method() === 'PUT' && r.url().includes('/api/contents/'),
    { timeout: WAIT });
  await page.keyboard.press('Control+s');
  check((await saved).status() === 200, 'the save was accepted');
  await page.reload({ waitUntil: 'domcontentloaded', timeout: WAIT });
  await kernelIdle(page);
  const first = page.locator('.cell.code_cell').first();
  await waitForOutput(first, /hello from the sandbox 42/);
  check(await page.locator('.output_png img').count() === 1, 'the reopened notebook shows the plot');
  cell = await typeAndRun(page, 'print(y * 2)');
  await waitForOutput(cell, /^10$/m);
  console.log('PASS the notebook saved; reopened, it shows its outputs and runs on the same kernel');
}

run(userDataDir, session);

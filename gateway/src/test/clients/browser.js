// Headless Debian Chromium for the browser tests, driven by playwright-core: a fresh profile per run, and
// nothing that reaches out on its own (updates, sync, background fetches).
const { chromium } = require('playwright-core');

async function launch(userDataDir) {
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  return { browser, page: browser.pages()[0] || await browser.newPage() };
}

function check(cond, what) {
  if (!cond) {
    throw new Error(what);
  }
}

// Runs a session on a fresh page; prints FAIL and sets a non-zero exit code on the first failure.
async function run(userDataDir, session) {
  const { browser, page } = await launch(userDataDir);
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  try {
    await session(page);
  } catch (e) {
    console.error('FAIL ' + e.message + (errors.length ? '\npage errors: ' + errors.join('; ') : ''));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

module.exports = { check, run };

// A person opens the gateway's URL in headless Chromium without the token, logs in with it, and reads the
// status page: the version, the auth mode, the kernels and pool, and the Open WebUI settings to paste, which
// must not show the token itself. Prints PASS lines; exits non-zero on the first failure.
// usage: node status_page.js BASE_URL TOKEN USER_DATA_DIR
const { check, run } = require('./browser');

const [baseUrl, token, userDataDir] = process.argv.slice(2);

async function session(page) {
  await page.goto(baseUrl, { waitUntil: 'domcontentloaded' });
  check(new URL(page.url()).pathname.endsWith('/login'), 'without the token the page asks for it: ' + page.url());
  await page.fill('input[name=password]', token);
  await Promise.all([page.waitForNavigation(), page.click('button')]);
  check(await page.title() === 'Sandcell gateway', 'logged in, the status page shows: ' + await page.title());
  console.log('PASS the URL asks for the token, then shows the status page');

  const status = await page.locator('#status').innerText();
  check(/version\s+sandcell \d/.test(status), 'the version: ' + status);
  check(/auth\s+token/.test(status), 'the auth mode: ' + status);
  check(/kernels\s+\d+ live/.test(status) && /warm pool\s+\d+ ready/.test(status), 'kernels and pool: ' + status);
  check(/sandboxes\s+healthy/.test(status), 'sandbox health: ' + status);
  console.log('PASS the page shows the version, auth mode, kernels, pool and sandbox health');

  const env = await page.locator('#openwebui-env').innerText();
  check(env.includes('CODE_EXECUTION_JUPYTER_URL=' + baseUrl.replace(/\/$/, '')), 'the URL to paste: ' + env);
  check(env.includes('CODE_INTERPRETER_JUPYTER_AUTH=token'), 'the auth type to paste: ' + env);
  const html = await page.content();
  check(!html.includes(token), 'the page never shows the token');
  console.log('PASS the Open WebUI settings name this gateway and its auth type, never the token');
}

run(userDataDir, session);

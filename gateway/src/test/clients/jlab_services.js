// Drives the gateway with @jupyterlab/services (what JupyterLab, VS Code and other web clients use):
// start a kernel, execute with the v1 websocket subprotocol, interrupt, restart, shut down.
// usage: node jlab_services.js BASE_URL TOKEN
const { ServerConnection, KernelManager } = require('@jupyterlab/services');
const WebSocket = require('ws');

const [baseUrl, token] = process.argv.slice(2);
const protocols = [];

class RecordingWebSocket extends WebSocket {
  constructor(url, protos) {
    super(url, protos);
    this.on('open', () => protocols.push(this.protocol));
  }
}

function check(cond, what) {
  if (!cond) {
    console.error('FAIL ' + what);
    process.exit(1);
  }
}

async function run(kernel, code) {
  const out = [];
  const future = kernel.requestExecute({ code });
  future.onIOPub = msg => {
    if (msg.header.msg_type === 'stream') out.push(msg.content.text);
  };
  const reply = await future.done;
  return { reply, out: out.join('') };
}

(async () => {
  const settings = ServerConnection.makeSettings({ baseUrl, wsUrl: baseUrl.replace(/^http/, 'ws'), token,
    WebSocket: RecordingWebSocket, appendToken: true });
  const manager = new KernelManager({ serverSettings: settings });
  await manager.ready;
  const kernel = await manager.startNew({ name: 'python3' });
  const info = await kernel.info;
  check(info.language_info.name === 'python', 'kernel_info over the websocket');

  let r = await run(kernel, "x = 6 * 7\nprint('hello', x)");
  check(r.reply.content.status === 'ok' && r.out === 'hello 42\n', 'execute: ' + JSON.stringify(r));
  check(protocols.includes('v1.kernel.websocket.jupyter.org'), 'v1 subprotocol negotiated: ' + protocols);
  console.log('PASS start and execute over the v1 subprotocol');

  const spin = kernel.requestExecute({ code: 'import time\nwhile True: time.sleep(0.01)' });
  await new Promise(res => setTimeout(res, 1500));
  await kernel.interrupt();
  const spun = await spin.done;
  check(spun.content.status === 'error' && spun.content.ename === 'KeyboardInterrupt',
        'interrupt: ' + JSON.stringify(spun.content));
  r = await run(kernel, 'print(x)');
  check(r.out === '42\n', 'state after interrupt: ' + JSON.stringify(r));
  console.log('PASS interrupt keeps the kernel and its state');

  await kernel.restart();
  r = await run(kernel, "print('x' in globals())");
  check(r.out === 'False\n', 'restart gives a fresh kernel: ' + JSON.stringify(r));
  console.log('PASS restart');

  await kernel.shutdown();
  const models = await (await ServerConnection.makeRequest(baseUrl + 'api/kernels', {}, settings)).json();
  check(models.length === 0, 'no kernels after shutdown: ' + JSON.stringify(models));
  console.log('PASS shutdown');
  manager.dispose();
  process.exit(0);
})().catch(e => {
  console.error('FAIL ' + (e && e.stack || e));
  process.exit(1);
});

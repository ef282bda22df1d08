// Checks a Netron attachment in a real Netron and screenshots it (a manual check: Netron is not on
// npm, so CI cannot run it; its format is read by test/unit/review/netron.test.ts instead).
//
//   node scripts/netron-screenshot.mjs <netron checkout>/source <model.onnx> <attachment.json> <node text> <out.png>
//
// Serves Netron's browser build from its source folder, opens the model, then the attachment, clicks
// the first node whose box shows <node text>, prints the sidebar's text and saves a screenshot.
import { createReadStream, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import * as path from 'node:path';
import { chromium } from 'playwright-core';

const [source, model, attachment, nodeText, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node scripts/netron-screenshot.mjs <netron>/source <model.onnx> <attachment.json> <node text> <out.png>');
  process.exit(2);
}
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.png': 'image/png', '.ico': 'image/x-icon' };
const server = createServer((req, res) => {
  const file = path.join(source, decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/$/, '/index.html'));
  if (!file.startsWith(path.resolve(source)) || !existsSync(file)) {
    // an op metadata file missing from a partial checkout: an empty list (no op documentation)
    if (file.endsWith('-metadata.json')) return res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    return res.writeHead(404).end();
  }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
}).listen(0);
const port = server.address().port;

const browser = await chromium.launch({ executablePath: process.env.CHROME_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`http://localhost:${port}/index.html`);
  await page.getByText('Accept').click({ timeout: 5000 }).catch(() => undefined);
  await page.setInputFiles('#open-file-dialog', model);
  await page.locator('g.node').first().waitFor({ timeout: 30000 });
  await page.setInputFiles('#open-file-dialog', attachment);
  await page.waitForTimeout(1000);
  await page.locator('g.node', { hasText: nodeText }).first().locator('text').first().click();
  await page.waitForTimeout(1000);
  console.log(await page.locator('#sidebar').innerText());
  await page.screenshot({ path: out });
} finally {
  await browser.close();
  server.close();
}

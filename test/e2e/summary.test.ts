import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { model, ROOT } from '../helpers';
import { launch, openPage } from './browser';

const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');

function exportHtml(name: string): string {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'gd-e2e-')), `${name}.html`);
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'inspect', model(name), '--format', 'html', '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

describe('the exported HTML summary in a real browser (Debian chromium)', () => {
  let browser: Browser;
  before(async () => {
    browser = await launch();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  after(() => browser?.close());

  it('renders the model summary with no console errors, no CSP violations and no network requests', async () => {
    const file = exportHtml('resnet_small');
    assert.match(readFileSync(file, 'utf8'), /Content-Security-Policy" content="default-src 'none'/);
    const { page, problems } = await openPage(browser, pathToFileURL(file).href);
    await page.waitForSelector('h1');
    assert.equal(await page.textContent('h1'), 'resnet_small.onnx');
    const ops = await page.$$eval('table:nth-of-type(3) tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    assert.deepEqual(ops.find((r) => r[0] === 'Conv'), ['Conv', '9']);
    assert.deepEqual(problems, { consoleErrors: [], cspViolations: [], requests: [] });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'inspect-summary-light.png'), fullPage: true });
  });

  it('follows a dark colour scheme legibly', async () => {
    const { page, problems } = await openPage(browser, pathToFileURL(exportHtml('transformer')).href, { colorScheme: 'dark' });
    await page.waitForSelector('h1');
    assert.deepEqual(problems.consoleErrors, []);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'inspect-summary-dark.png'), fullPage: true });
  });

  it('never interprets model text as HTML', async () => {
    const { page } = await openPage(browser, pathToFileURL(exportHtml('mlp_sigmoid')).href);
    await page.waitForSelector('h1');
    assert.equal(await page.$$eval('script', (s) => s.length), 2, 'only the data and the app scripts');
  });
});

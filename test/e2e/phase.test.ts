import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { AnalysisReport } from '../../src/core/report/types';
import { standaloneHtml } from '../../src/runtime/assets';
import { analyzeFile } from '../../src/runtime/engine';
import { model } from '../helpers';
import { launch, openPage } from './browser';

describe('a partial report (the first answer of a stopped analysis) in a real browser', () => {
  let browser: Browser;
  let first: AnalysisReport;
  before(async () => {
    browser = await launch();
    const partials: AnalysisReport[] = [];
    await analyzeFile(model('resnet_small'), { executionProvider: 'cpu', curvatureIterations: 0 }, { onPartial: (r) => partials.push(JSON.parse(JSON.stringify(r))) });
    first = partials[0];
    assert.equal(first.run.phase, 'first-answer');
  });
  after(() => browser?.close());

  it('says it is partial, shows the first look of every layer, and prints no figure it does not have', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'gd-e2e-')), 'partial.html');
    writeFileSync(file, standaloneHtml('partial', first));
    const { page, problems } = await openPage(browser, pathToFileURL(file).href, { width: 1280 });
    await page.waitForSelector('table.heat-table', { state: 'attached' });
    const banner = await page.textContent('.phase.partial');
    assert.match(banner ?? '', /^Partial: the analysis was stopped with 0 of 10 layers probed in full \(first answer after \d+\.\d s\)/);
    const rows = await page.$$eval('table.heat-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    assert.equal(rows.length, first.layers.length);
    for (const cells of rows) {
      assert.ok(cells.some((c) => /\d/.test(c)), `a row with figures: ${cells.join(' | ')}`);
      assert.ok(!cells.some((c) => /^0(\.0+)?$/.test(c.trim())), `no bare 0 for a figure not computed: ${cells.join(' | ')}`);
    }
    assert.deepEqual(problems, { consoleErrors: [], cspViolations: [], requests: [] });
  });
});

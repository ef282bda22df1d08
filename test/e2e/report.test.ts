import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { memberFindings } from '../../src/core/diagnosis/group';
import { formatFigure } from '../../src/core/report/figures';
import type { AnalysisReport } from '../../src/core/report/types';
import { standaloneHtml } from '../../src/runtime/assets';
import { model, ROOT } from '../helpers';
import { launch, openPage } from './browser';

const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
const cli = path.join(ROOT, 'dist', 'cli.js');

/** The CLI's HTML export of a fixture's report, and the JSON report of the same run. */
function exportReport(name: string, extra: string[] = []): { html: string; report: AnalysisReport } {
  const dir = mkdtempSync(path.join(tmpdir(), 'gd-e2e-'));
  const html = path.join(dir, `${name}.html`);
  const json = path.join(dir, `${name}.json`);
  for (const [format, out] of [['html', html], ['json', json]]) {
    const r = spawnSync(process.execPath, [cli, 'analyze', model(name), '--format', format, '--out', out, '--curvature-iterations', '4', ...extra], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  return { html, report: JSON.parse(readFileSync(json, 'utf8')) as AnalysisReport };
}

async function heatRows(page: Page): Promise<Array<{ layer: string; flagged: string[] }>> {
  return page.$$eval('table.heat-table tbody tr', (rows) => rows.map((r) => ({
    layer: r.querySelector('th')?.textContent ?? '',
    flagged: [...r.querySelectorAll('td[data-flagged]')].flatMap((td) => (td as HTMLElement).dataset.flagged!.split(' ')),
  })));
}

describe('the exported HTML report in a real browser (Debian chromium)', () => {
  let browser: Browser;
  let sigmoid: { html: string; report: AnalysisReport };
  before(async () => {
    browser = await launch();
    mkdirSync(SCREENSHOTS, { recursive: true });
    sigmoid = exportReport('mlp_sigmoid');
  });
  after(() => browser?.close());

  it('renders the verdict, heatmap, flow chart and findings with no console errors, CSP violations or requests', async () => {
    const { page, problems } = await openPage(browser, pathToFileURL(sigmoid.html).href, { width: 1280 });
    await page.waitForSelector('table.heat-table', { state: 'attached' });
    assert.equal(await page.textContent('h1'), 'mlp_sigmoid.onnx');
    const c = sigmoid.report.verdict!.counts;
    assert.ok(c.warning <= 5, `the 12 contracting layers are one warning: ${c.warning} warnings`);
    assert.ok((await page.textContent('.verdict'))?.startsWith(`Pathological · 1 error, ${c.warning} warnings, ${c.info} info`));
    for (const id of ['heatmap-canvas', 'flow-canvas', 'spectrum-canvas']) {
      const size = await page.$eval(`#${id}`, (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]);
      assert.ok(size[0] > 100 && size[1] > 100, `${id} is drawn (${size})`);
    }
    await page.evaluate(() => document.fonts.ready);
    const codicon = await page.evaluate(() => [...(document.fonts as unknown as Iterable<FontFace>)].filter((f) => f.family.replace(/"/g, '') === 'codicon').map((f) => f.status));
    assert.deepEqual(codicon, ['loaded'], 'the codicon font (inlined) is loaded');
    assert.ok(await page.$('.verdict .codicon-error'));
    assert.deepEqual(problems, { consoleErrors: [], cspViolations: [], requests: [] });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'report-light.png'), fullPage: true });
  });

  it('has one heatmap row per layer, with flagged cells where the findings are', async () => {
    const { page } = await openPage(browser, pathToFileURL(sigmoid.html).href);
    await page.waitForSelector('table.heat-table', { state: 'attached' });
    const rows = await heatRows(page);
    assert.deepEqual(rows.map((r) => r.layer), sigmoid.report.layers.map((l) => l.name));
    for (const [i, l] of sigmoid.report.layers.entries()) {
      const expected = new Set(sigmoid.report.findings.flatMap(memberFindings).filter((f) => f.layer === l.name && ['contracting-layer', 'vanishing-gradient', 'exploding-layer'].includes(f.rule)).map((f) => f.rule));
      for (const rule of expected) assert.ok(rows[i].flagged.includes(rule), `${l.name} flags ${rule}`);
    }
    assert.ok(rows.every((r) => r.flagged.includes('contracting-layer')), 'every sigmoid layer contracts');
    assert.ok(rows.every((r) => r.flagged.includes('vanishing-gradient')), 'the vanishing range covers the stack');
  });

  it('prints bounds as bounds, a singular layer\'s kappa as ∞, and no 0 for a measurement within its error bar', async () => {
    const small = exportReport('resnet_small', ['--curvature-iterations', '0']);
    const { page } = await openPage(browser, pathToFileURL(small.html).href);
    await page.waitForSelector('table.heat-table', { state: 'attached' });
    const cells = await page.$$eval('table.heat-table tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    // each row: its number, then one cell per metric (σmax, σmin, rms gain, κ, ...)
    const column = (label: string) => 1 + ['σmax', 'σmin', 'rms gain', 'κ'].indexOf(label);
    small.report.layers.forEach((l, i) => {
      const kinds = l.jacobian.kinds;
      const sigmaMin = cells[i][column('σmin')];
      const kappa = cells[i][column('κ')];
      if (kinds?.sigmaMin === 'upper-bound') assert.match(sigmaMin, /^≤/, `${l.name}: σmin ${sigmaMin}`);
      if (kinds?.conditionNumber === 'lower-bound') assert.match(kappa, /^≥/, `${l.name}: κ ${kappa}`);
      if (l.jacobian.conditionNumber === null && l.jacobian.rank && l.jacobian.rank.value < l.jacobian.rank.of) assert.match(kappa, /^∞/, `${l.name}: κ ${kappa}`);
      assert.doesNotMatch(sigmaMin, /^0(\s|$)/, `${l.name}: σmin printed as 0`);
    });
    assert.ok(small.report.layers.some((l) => l.jacobian.kinds?.sigmaMin === 'upper-bound'), 'the fixture has a Lanczos layer');
  });

  it('clicking a row (or a heatmap cell) updates the layer detail and its spectrum', async () => {
    const { page } = await openPage(browser, pathToFileURL(sigmoid.html).href, { width: 1280 });
    await page.waitForSelector('table.heat-table', { state: 'attached' });
    assert.equal(await page.textContent('#detail h2'), '1. /layers.0/Gemm');
    await page.click('summary:has-text("Table: layers by metric")');
    await page.click('table.heat-table tr[data-layer="4"]');
    assert.equal(await page.textContent('#detail h2'), '5. /layers.4/Gemm');
    await page.click('summary:has-text("Table: spectrum")');
    const caption = await page.textContent('#spectrum-canvas ~ * caption, .detail-wrap details caption');
    assert.match(caption ?? '', /Singular values \(exact\)/);
    const mass = await page.$$eval('.detail-wrap details table tbody tr td:nth-child(3)', (tds) => tds.map((td) => Number(td.textContent)));
    assert.ok(Math.abs(mass.reduce((a, b) => a + b, 0) - 1) < 0.01, `the spectrum's bins hold all its mass: ${mass}`);
    // a click on a canvas cell selects its row (cells have small gaps: try a few heights)
    const box = (await page.$('#heatmap-canvas'))!;
    const b = (await box.boundingBox())!;
    let picked = '';
    for (const f of [0.8, 0.82, 0.85, 0.88, 0.9]) {
      await page.mouse.click(b.x + b.width * 0.6, b.y + b.height * f);
      picked = (await page.textContent('#detail h2')) ?? '';
      if (picked !== '5. /layers.4/Gemm') break;
    }
    assert.match(picked ?? '', /^\d+\. \/layers\.\d+\/Gemm$/);
    assert.notEqual(picked, '5. /layers.4/Gemm');
  });

  it('navigates layers with the keyboard and selects a layer from a finding', async () => {
    const { page } = await openPage(browser, pathToFileURL(sigmoid.html).href);
    await page.waitForSelector('table.heat-table', { state: 'attached' });
    await page.click('summary:has-text("Table: layers by metric")');
    await page.focus('table.heat-table tr[data-layer="0"]');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.textContent('#detail h2'), '3. /layers.2/Gemm');
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.layer), '2');
    await page.keyboard.press('End');
    assert.equal(await page.textContent('#detail h2'), '12. /layers.11/Gemm');
    await page.click('#findings .group.warning button.finding-head >> nth=0');
    assert.match((await page.textContent('#detail h2')) ?? '', /\/layers\.\d+\/Gemm/);
  });

  it('lists a grouped finding once with its members, each with its figure, its message on hover, a click selecting its layer', async () => {
    const { page } = await openPage(browser, pathToFileURL(sigmoid.html).href);
    await page.waitForSelector('#findings li.finding', { state: 'attached' });
    const group = sigmoid.report.findings.find((f) => f.rule === 'contracting-layer')!;
    assert.equal(await page.$$eval('#findings li.finding[data-rule="contracting-layer"]', (l) => l.length), 1, 'one finding, not 12');
    const item = '#findings li.finding[data-rule="contracting-layer"]';
    assert.equal(await page.textContent(`${item} > p`), group.message);
    assert.match((await page.textContent(`${item} .finding-head`)) ?? '', /contracting-layer · 12 layers$/);
    const members = await page.$$eval(`${item} li.member`, (lis) => lis.map((li) => ({
      id: (li as HTMLElement).dataset.member,
      name: li.querySelector('.member-name')?.textContent,
      figure: li.querySelector('.member-figure')?.textContent?.trim(),
      title: (li.querySelector('.member-head') as HTMLElement).title,
    })));
    assert.deepEqual(members, group.members!.map((m) => ({ id: m.id, name: m.layer, figure: formatFigure({ value: m.measured!, kind: m.measuredKind! }), title: m.message })));
    assert.match((await page.textContent(`${item} .members-label`)) ?? '', /^Layers \(12\):$/);
    // laid out by the stylesheet: a wrapped row of plain names, not a numbered list of buttons
    const look = await page.$eval(`${item} ol.members`, (ol) => {
      const button = ol.querySelector('button.member-head')!;
      const [list, head] = [getComputedStyle(ol), getComputedStyle(button)];
      return { display: list.display, wrap: list.flexWrap, marker: list.listStyleType, background: head.backgroundColor, border: head.borderTopStyle, inline: ol.getAttribute('style') ?? button.getAttribute('style') };
    });
    assert.deepEqual(look, { display: 'flex', wrap: 'wrap', marker: 'none', background: 'rgba(0, 0, 0, 0)', border: 'none', inline: null });
    for (const head of [`${item} button.finding-head`, `${item} li.member button >> nth=3`]) {
      await page.hover(head);
      assert.equal(await page.locator(head).evaluate((b) => getComputedStyle(b).backgroundColor), 'rgba(0, 0, 0, 0)', `${head} stays text under the pointer`);
    }
    await page.click(`${item} li.member button >> nth=7`);
    assert.equal(await page.textContent('#detail h2'), '8. /layers.7/Gemm');
    // the layer's detail explains that layer: the member's own message, not the group's
    const detail = (await page.textContent('#detail .layer-findings')) ?? '';
    assert.ok(detail.includes(group.members![7].message), detail);
    // filtering by a member's layer finds its group
    await page.fill('#findings vscode-textfield >> input', '/layers.7/Gemm');
    await page.waitForFunction(() => !document.querySelector('#findings li.finding[data-rule="lyapunov-exponent"]'));
    assert.ok(await page.$(item));
  });

  it('filters the findings', async () => {
    const { page } = await openPage(browser, pathToFileURL(sigmoid.html).href);
    await page.waitForSelector('#findings li', { state: 'attached' });
    const all = await page.$$eval('#findings li', (l) => l.length);
    await page.fill('#findings vscode-textfield >> input', 'lyapunov');
    await page.waitForFunction((n) => document.querySelectorAll('#findings li').length < n, all);
    assert.deepEqual(await page.$$eval('#findings li', (l) => l.map((x) => (x as HTMLElement).dataset.rule)), ['lyapunov-exponent']);
  });

  it('shows layers by samples when the pathology depends on the input', async () => {
    const { html } = exportReport('mlp_tanh_overscaled', ['--samples', '3']);
    const { page, problems } = await openPage(browser, pathToFileURL(html).href, { width: 1280 });
    await page.waitForSelector('table.heat-table', { state: 'attached' });
    await page.evaluate(() => {
      const s = document.querySelector('#heatmap vscode-single-select') as unknown as { value: string; dispatchEvent(e: Event): void };
      s.value = 'samples';
      s.dispatchEvent(new Event('change'));
    });
    await page.waitForSelector('table.samples-table', { state: 'attached' });
    const head = await page.$$eval('table.samples-table thead th', (th) => th.map((x) => x.textContent));
    assert.deepEqual(head, ['layer', 'sample 1', 'sample 2', 'sample 3']);
    assert.equal(await page.$$eval('table.samples-table tbody tr', (r) => r.length), 10);
    assert.deepEqual(problems.consoleErrors, []);
  });

  it('is legible in a dark theme', async () => {
    const { page, problems } = await openPage(browser, pathToFileURL(exportReport('resnet_small').html).href, { colorScheme: 'dark', width: 1280 });
    await page.waitForSelector('table.heat-table', { state: 'attached' });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(13, 17, 23)');
    assert.deepEqual(problems.consoleErrors, []);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'report-dark.png'), fullPage: true });
  });

  it('opens a comparison exported as HTML with no network and no console errors', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'gd-e2e-')), 'compare.html');
    const r = spawnSync(process.execPath, [cli, 'compare', model('mlp_sigmoid'), model('mlp_relu_he'), '--format', 'html', '--out', out, '--curvature-iterations', '0'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { page, problems } = await openPage(browser, pathToFileURL(out).href, { width: 1280 });
    await page.waitForSelector('table.compare-table', { state: 'attached' });
    assert.equal(await page.textContent('h1'), 'mlp_relu_he.onnx against mlp_sigmoid.onnx');
    assert.match((await page.textContent('.verdict strong')) ?? '', /^Pathological → Healthy$/);
    assert.equal(await page.$$eval('table.compare-table tbody tr.matched', (rows) => rows.length), 12);
    const headers = await page.$$eval('table.compare-table thead th', (ths) => ths.map((th) => th.textContent));
    assert.deepEqual(headers.slice(2, 5), ['rms gain (base)', 'rms gain (candidate)', 'rms gain change']);
    assert.ok(headers.includes('σmin change') && headers.includes('‖∂L/∂in‖ change'), headers.join(', '));
    const firstChange = await page.$eval('table.compare-table tbody tr td:nth-child(14)', (td) => td.textContent);
    assert.match(firstChange ?? '', /^×\d\.\d\de\+10$/, 'the first layer gets ~1e10 times more gradient');
    assert.match((await page.textContent('section.resolved')) ?? '', /vanishing-gradient/);
    const size = await page.$eval('#compare-canvas', (c) => (c as HTMLCanvasElement).height);
    assert.ok(size > 100);
    assert.deepEqual(problems, { consoleErrors: [], cspViolations: [], requests: [] });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'compare-light.png'), fullPage: false });
  });

  it('renders 500 layers and a report of tens of MB, and selects a layer in it', async () => {
    const big = structuredClone(sigmoid.report);
    const values = Array.from({ length: 2048 }, (_, k) => 1 / (1 + k) + Math.random() * 1e-9);
    big.layers = Array.from({ length: 500 }, (_, i) => {
      const l = structuredClone(sigmoid.report.layers[i % 12]);
      // a full 2048-value spectrum per layer, as a wide exact layer has
      if (l.jacobian.spectrum) l.jacobian.spectrum = { ...l.jacobian.spectrum, values, weights: values.map(() => 1 / values.length) };
      return { ...l, index: i, name: `/block${i}/Gemm` };
    });
    big.findings = [];
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'gd-e2e-')), 'big.html');
    const html = standaloneHtml('big', big);
    assert.ok(html.length > 20e6, `${(html.length / 1e6).toFixed(0)} MB`);
    writeFileSync(file, html);
    const { page, problems } = await openPage(browser, pathToFileURL(file).href);
    await page.waitForSelector('table.heat-table', { state: 'attached' });
    assert.equal(await page.$$eval('table.heat-table tbody tr', (r) => r.length), 500);
    await page.click('summary:has-text("Table: layers by metric")');
    await page.click('table.heat-table tr[data-layer="250"]');
    assert.equal(await page.textContent('#detail h2'), '251. /block250/Gemm');
    assert.deepEqual(problems.consoleErrors, []);
  });
});

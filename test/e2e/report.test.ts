import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { memberFindings } from '../../src/core/diagnosis/group';
import { fmt, formatFigure, jacobianFigure, type JacobianFigureName } from '../../src/core/report/figures';
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
    for (const id of ['flow-canvas', 'lyapunov-canvas', 'spectrum-canvas']) {
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
    const cells = await page.$$eval('table.heat-table tbody tr', (rows) => rows.map((r) => Object.fromEntries([...r.querySelectorAll('td.cell')].map((td) => [(td as HTMLElement).dataset.metric, td.querySelector('.value')?.textContent ?? '']))));
    small.report.layers.forEach((l, i) => {
      const kinds = l.jacobian.kinds;
      const sigmaMin = cells[i].sigmaMin;
      const kappa = cells[i].condition;
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
    await page.click('table.heat-table tr[data-layer="4"] th');
    assert.equal(await page.textContent('#detail h2'), '5. /layers.4/Gemm');
    await page.click('summary:has-text("Table: spectrum")');
    const caption = await page.textContent('#spectrum-canvas ~ * caption, .detail-wrap details caption');
    assert.match(caption ?? '', /Singular values \(exact\)/);
    const mass = await page.$$eval('.detail-wrap details table tbody tr td:nth-child(3)', (tds) => tds.map((td) => Number(td.textContent)));
    assert.ok(Math.abs(mass.reduce((a, b) => a + b, 0) - 1) < 0.01, `the spectrum's bins hold all its mass: ${mass}`);
    // a click on a coloured cell selects its layer
    await page.click('table.heat-table tr[data-layer="9"] td.cell[data-metric="gradient"]');
    assert.equal(await page.textContent('#detail h2'), '10. /layers.9/Gemm');
  });

  it('navigates layers with the keyboard and selects a layer from a finding', async () => {
    const { page } = await openPage(browser, pathToFileURL(sigmoid.html).href);
    await page.waitForSelector('table.heat-table', { state: 'attached' });
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

  it('prints each flagged cell\'s figure in it, as every view prints it', async () => {
    const { page } = await openPage(browser, pathToFileURL(sigmoid.html).href);
    await page.waitForSelector('table.heat-table', { state: 'attached' });
    const flagged = await page.$$eval('table.heat-table td.flagged', (tds) => tds.map((td) => ({
      layer: Number((td.parentElement as HTMLElement).dataset.layer), metric: (td as HTMLElement).dataset.metric!, text: td.querySelector('.value')?.textContent ?? '', visible: (td as HTMLElement).offsetWidth > 0,
    })));
    assert.ok(flagged.length >= 24, `the vanishing and contracting cells of 12 layers: ${flagged.length}`);
    for (const c of flagged) {
      const l = sigmoid.report.layers[c.layer];
      const expected = c.metric === 'gradient' ? formatFigure({ value: l.gradient.inputNorm!, kind: 'exact' }) : formatFigure(jacobianFigure(l.jacobian, c.metric as JacobianFigureName));
      assert.equal(c.text.replace(/\u00a0/g, ' '), expected, `${l.name} ${c.metric}`);
      assert.ok(c.visible, `${l.name} ${c.metric} is on screen, not in a collapsed table`);
    }
  });

  it('colours gradient norms against the gradient leaving the model, not the model\'s median', async () => {
    const background = async (html: string, layer: number) => {
      const { page } = await openPage(browser, pathToFileURL(html).href);
      await page.waitForSelector('table.heat-table', { state: 'attached' });
      return page.$eval(`table.heat-table tr[data-layer="${layer}"] td[data-metric="gradient"]`, (td) => ({ t: Number((td as HTMLElement).dataset.t), color: getComputedStyle(td).backgroundColor }));
    };
    // the sigmoid stack's last layer takes the gradient at its output's scale: neutral, not an alarm
    const last = sigmoid.report.layers.length - 1;
    const out = sigmoid.report.layers[last].gradient.outputNorm!;
    assert.ok(sigmoid.report.layers[last].gradient.inputNorm! > out / 10, 'the fixture\'s last layer is within the band');
    assert.deepEqual(await background(sigmoid.html, last), { t: 0, color: 'rgb(240, 240, 240)' });
    // its first layer is ~1e10 below the output: fully blue (the median of a vanishing stack would call it healthy)
    assert.ok(sigmoid.report.layers[0].gradient.inputNorm! < out * 1e-4);
    assert.deepEqual(await background(sigmoid.html, 0), { t: -1, color: 'rgb(33, 102, 172)' });
    // the healthy ReLU stack: every layer within the band, none coloured
    const relu = exportReport('mlp_relu_he', ['--curvature-iterations', '0']);
    for (const i of [0, 11]) assert.deepEqual(await background(relu.html, i), { t: 0, color: 'rgb(240, 240, 240)' }, `relu layer ${i}`);
  });

  it('leaves out a column with no signal and says why; keys every scale shown', async () => {
    const relu = exportReport('mlp_relu_he', ['--curvature-iterations', '0']);
    assert.ok(relu.report.layers.every((l) => formatFigure(jacobianFigure(l.jacobian, 'sigmaMin')).startsWith('≤')), 'σmin is 0 within its error bar on every ReLU layer');
    const { page } = await openPage(browser, pathToFileURL(relu.html).href, { width: 1280 });
    await page.waitForSelector('table.heat-table', { state: 'attached' });
    const headers = await page.$$eval('table.heat-table thead th[data-metric]', (th) => th.map((x) => (x as HTMLElement).dataset.metric));
    assert.ok(!headers.includes('sigmaMin'), headers.join(', '));
    assert.ok(headers.includes('condition') && headers.includes('variance'), headers.join(', '));
    assert.match((await page.textContent('.heat-key .dropped')) ?? '', /^σmin is left out: on every layer it is 0 within its error bar/);
    // the key: a row for κ and one for the gains with Var(w)/ideal, each swatch printing the value it stands for
    const key = await page.$$eval('.heat-key .key-row', (rows) => rows.map((r) => ({ name: r.querySelector('.key-name')?.textContent, swatches: [...r.querySelectorAll('.key-swatch')].map((s) => s.textContent) })));
    assert.deepEqual(key.find((k) => k.name === 'κ')?.swatches, ['1', '100', '10⁴', '≥ 10⁶']);
    assert.match(key.find((k) => k.name?.includes('Var(w)/ideal'))?.name ?? '', /σmax, rms gain, Var\(w\)\/ideal/);
    assert.deepEqual(key.find((k) => k.name === '‖∂L/∂in‖')?.swatches, ['10⁻⁴×', '10⁻²×', 'within 10×', '10²×', '10⁴×']);
    // the heatmap fits its column: no cell hidden past the detail beside it
    const overflow = await page.$eval('.heat-box', (b) => b.scrollWidth - b.clientWidth);
    assert.equal(overflow, 0);
  });

  it('shows every heatmap column and its caption at the width of a VS Code editor beside the sidebar (930 px)', async () => {
    for (const width of [930, 1280]) {
      const { page } = await openPage(browser, pathToFileURL(sigmoid.html).href, { width });
      await page.waitForSelector('table.heat-table', { state: 'attached' });
      const overflow = await page.$eval('.heat-box', (b) => b.scrollWidth - b.clientWidth);
      assert.equal(overflow, 0, `${width} px: the heatmap overflows its box by ${overflow} px`);
      const right = await page.$eval('.heat-box', (b) => b.getBoundingClientRect().right);
      assert.ok(right <= width, `${width} px: the heatmap's box ends at ${right} px`);
    }
  });

  it('puts the fix of the finding that matters most in a "do this first" box, with its number', async () => {
    const { page } = await openPage(browser, pathToFileURL(sigmoid.html).href);
    await page.waitForSelector('.do-first', { state: 'attached' });
    // the finding the verdict names (test/unit/diagnosis/rank.test.ts: one ranking for both)
    const top = sigmoid.report.findings.find((f) => f.id === sigmoid.report.verdict?.top)!;
    assert.equal(top.rule, 'vanishing-gradient');
    assert.equal(await page.$eval('.do-first', (b) => (b as HTMLElement).dataset.rule), top.rule);
    assert.equal(await page.textContent('.do-first .do-first-fix'), top.fix);
    const link = await page.$eval('.do-first a', (a) => ({ text: a.textContent ?? '', href: (a as HTMLAnchorElement).getAttribute('href')! }));
    const number = Number(link.text.replace('finding ', ''));
    // the finding it cites carries that number in the list, and is the same finding
    const cited = await page.$eval(link.href, (li) => ({ rule: (li as HTMLElement).dataset.rule, number: [...document.querySelectorAll('#findings li.finding')].indexOf(li) + 1 }));
    assert.deepEqual(cited, { rule: top.rule, number });
    // a healthy model has nothing to do first
    const relu = exportReport('mlp_relu_he', ['--curvature-iterations', '0']);
    const healthy = await openPage(browser, pathToFileURL(relu.html).href);
    await healthy.page.waitForSelector('table.heat-table', { state: 'attached' });
    assert.equal(relu.report.verdict?.status, 'healthy');
    assert.equal(await healthy.page.$('.do-first'), null);
  });

  it('draws the gradient and the Lyapunov sum on two charts, names the loss, prints a shared error bar once', async () => {
    const { page } = await openPage(browser, pathToFileURL(sigmoid.html).href, { width: 1280 });
    await page.waitForSelector('#flow-canvas', { state: 'attached' });
    const note = (await page.textContent('#flow .flow-note')) ?? '';
    assert.ok(note.includes('softmax cross-entropy') && note.includes(sigmoid.report.run.lossNote!), note);
    assert.ok(await page.$('#lyapunov-canvas'));
    // the three exact figures share one float32 error bar: printed once, under the table
    const l = sigmoid.report.layers[0];
    const bar = fmt(l.jacobian.errors!.sigmaMax!);
    const detail = (await page.textContent('#detail')) ?? '';
    assert.equal(detail.split(bar).length - 1, 1, detail);
    assert.deepEqual(await page.$$eval('#detail table.figures tbody tr td:nth-child(3)', (tds) => tds.slice(0, 3).map((td) => td.textContent)), ['float32', 'float32', 'float32']);
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
    assert.equal(await page.textContent('h1'), 'mlp_sigmoid.onnx (base) → mlp_relu_he.onnx (candidate)');
    assert.match((await page.textContent('.verdict strong')) ?? '', /^Pathological → Healthy$/);
    assert.equal(await page.$$eval('table.compare-table tbody tr.matched', (rows) => rows.length), 12);
    const headers = await page.$$eval('table.compare-table thead th', (ths) => ths.map((th) => th.textContent));
    assert.deepEqual(headers.slice(2, 5), ['rms gain (base)', 'rms gain (candidate)', 'rms gain change']);
    assert.ok(headers.includes('σmin change') && headers.includes('‖∂L/∂in‖ change'), headers.join(', '));
    const change = (metric: number) => page.$eval(`table.compare-table tbody tr td:nth-child(${3 + 3 * metric + 2})`, (td) => ({
      ratio: td.querySelector('.ratio')?.textContent ?? '', judgement: (td as HTMLElement).dataset.judgement, background: getComputedStyle(td).backgroundColor,
    }));
    const gradient = await change(3);
    assert.match(gradient.ratio, /^×\d\.\d\de\+10$/, 'the first layer gets ~1e10 times more gradient');
    // more gradient where it vanished is an improvement: green and "better", not the alarm's orange
    assert.equal(gradient.judgement, 'better');
    const [red, green, blue] = gradient.background.match(/\d+/g)!.map(Number);
    assert.ok(green > red && green > blue, `a green cell: ${gradient.background}`);
    // the candidate's σmin is only bounded (0 within its error bar): the ratio is a bound, never ×0
    const sigmaMin = await change(2);
    assert.match(sigmaMin.ratio, /^≤ ×\d/, sigmaMin.ratio);
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
    await page.click('table.heat-table tr[data-layer="250"] th');
    assert.equal(await page.textContent('#detail h2'), '251. /block250/Gemm');
    assert.deepEqual(problems.consoleErrors, []);
  });
});

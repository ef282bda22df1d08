import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { formatInspect } from '../../../src/core/report/inspectText';
import { analyzeFile, inspectFile } from '../../../src/runtime/engine';
import { model, ROOT } from '../../helpers';

const cpu = { executionProvider: 'cpu' as const };
const cli = path.join(ROOT, 'dist', 'cli.js');

describe('inspect says what the analysis detects of BatchNorm and Dropout', () => {
  it('BatchNorm folded by the eval export: the convolutions, batch statistics with it re-inserted, and the PRESERVE export; the same detection as the analysis', async () => {
    const r = await inspectFile(model('cnn_bn_eval'), cpu);
    assert.equal(r.forwardError, undefined);
    assert.deepEqual(r.batchNorm?.folded.map((f) => [f.node, f.atDefaults]), [['/conv1/Conv', true], ['/conv2/Conv', true]]);
    assert.equal(r.batchNorm?.mode, 'batch');
    const text = formatInspect(r);
    assert.match(text, /^BatchNorm\n {2}BatchNorm folded into 2 convolutions by the exporter \(eval-mode export\), at their initial statistics: \/conv1\/Conv, \/conv2\/Conv$/m);
    assert.match(text, /^ {2}analyze uses batch statistics of 16 samples, folded BatchNorm re-inserted \(--batchnorm auto; README "BatchNorm at initialisation"\)$/m);
    assert.match(text, /^ {2}to keep BatchNorm in the graph, export with torch\.onnx\.export\(model\.eval\(\), \.\.\., training=torch\.onnx\.TrainingMode\.PRESERVE\)$/m);
    // what inspect says is what the analysis then does
    const a = await analyzeFile(model('cnn_bn_eval'), { ...cpu, curvatureIterations: 0 });
    const { batchSize, passes, ...analysed } = a.run.batchNorm!;
    assert.deepEqual(analysed, r.batchNorm);
    assert.equal(batchSize, r.batchNormSamples);
    assert.ok(passes! >= 1);
  });

  it('BatchNorm kept by the PRESERVE export at its default statistics, and running statistics when asked', async () => {
    const r = await inspectFile(model('cnn_bn_preserve'), cpu);
    assert.deepEqual(r.batchNorm?.defaultStatistics, ['/bn1/BatchNormalization', '/bn2/BatchNormalization']);
    assert.deepEqual(r.batchNorm?.folded, []);
    const text = formatInspect(r);
    assert.match(text, /^ {2}2 BatchNorm nodes with running statistics at their defaults \(mean 0, variance 1\), as exported at initialisation: \/bn1\/BatchNormalization, \/bn2\/BatchNormalization$/m);
    assert.doesNotMatch(text, /PRESERVE/, 'nothing folded: no export advice');
    // the CLI prints the same section
    const out = spawnSync(process.execPath, [cli, 'inspect', model('cnn_bn_preserve')], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.ok(out.stdout.includes(text.slice(text.indexOf('\nBatchNorm\n'), text.indexOf('\nOperators'))), out.stdout);
  });

  it('Dropout, run as the identity; and nothing on a model with neither', async () => {
    const m = decodeModel(readFileSync(model('mlp_relu_he')));
    const i = m.graph.nodes.findIndex((n) => n.name === '/Relu');
    const relu = m.graph.nodes[i];
    m.graph.nodes.splice(i + 1, 0, { name: '/dropout/Dropout', opType: 'Dropout', domain: '', inputs: [relu.outputs[0]], outputs: ['dropped'], attributes: [], metadata: {} });
    for (const n of m.graph.nodes.slice(i + 2)) n.inputs = n.inputs.map((x) => (x === relu.outputs[0] ? 'dropped' : x));
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'gd-dropout-')), 'dropout.onnx');
    writeFileSync(file, encodeModel(m).bytes);
    const r = await inspectFile(file, cpu);
    assert.equal(r.forwardError, undefined);
    assert.deepEqual(r.batchNorm?.dropout, ['/dropout/Dropout']);
    const text = formatInspect(r);
    assert.match(text, /^BatchNorm\n {2}1 Dropout node, analysed as the identity \(as in inference\): \/dropout\/Dropout\n\nOperators/m);
    const plain = await inspectFile(model('mlp_relu_he'), cpu);
    assert.equal(plain.batchNorm, undefined);
    assert.doesNotMatch(formatInspect(plain), /BatchNorm/);
  });
});

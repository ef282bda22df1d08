import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { decodeModel } from '../../../src/core/onnx/decode';
import type { AnalysisReport, Finding } from '../../../src/core/report/types';
import { findModuleDefinitions, locateFindings, matchFrames, modulePathOf, nodeSourceFrames, type SourceMatch } from '../../../src/core/sourceMap';
import { model, ROOT } from '../../helpers';

const fixtureScript = path.join(ROOT, 'test', 'fixtures', 'make_fixtures.py');
const script = { path: fixtureScript, text: readFileSync(fixtureScript, 'utf8') };
const lineOf = (pattern: RegExp) => script.text.split('\n').findIndex((l) => pattern.test(l)) + 1;

describe('mapping nodes back to Python sources', () => {
  it('reads the stack PyTorch writes into doc strings (export verbose=True) and resolves it by path suffix', () => {
    const m = decodeModel(readFileSync(model('mlp_traced')));
    const gemm = m.graph.nodes.find((n) => n.opType === 'Gemm')!;
    const frames = nodeSourceFrames(gemm);
    assert.ok(frames.length > 2);
    assert.match(frames[0].file, /torch[\\/]nn[\\/]modules[\\/]linear\.py$/, 'innermost frame first');
    // another machine, another folder: only the tail of the path is shared
    const elsewhere = '/home/colleague/project/test/fixtures/make_fixtures.py';
    const match = matchFrames(frames, ['/home/colleague/project/other.py', elsewhere]);
    assert.equal(match?.file, elsewhere);
    assert.equal(match?.how, 'stack');
    assert.equal(match?.line, lineOf(/x = self\.act\(layer\(x\)\)/));
    assert.equal(matchFrames(frames, ['/somewhere/else.py']), undefined);
  });

  it('reads the dynamo exporter\'s stack traces in metadata', () => {
    const frames = nodeSourceFrames({ name: 'n', opType: 'Relu', domain: '', inputs: [], outputs: [], attributes: [], metadata: { 'pkg.torch.onnx.stack_trace': 'File "/p/model.py", line 42, in forward\n    x = self.relu(x)' } });
    assert.deepEqual(frames, [{ file: '/p/model.py', line: 42, function: 'forward' }]);
  });

  it('derives module paths from node names', () => {
    assert.equal(modulePathOf('/layer1/layer1.0/conv1/Conv'), 'conv1');
    assert.equal(modulePathOf('/layers.3/Gemm'), 'layers.3');
    assert.equal(modulePathOf('Gemm_0'), undefined);
    assert.equal(modulePathOf('/Relu'), undefined);
  });

  it('finds module definitions: attribute assignments, and the index-th item of an nn.Sequential', () => {
    const [layers] = findModuleDefinitions('layers.3', [script]);
    assert.equal(layers.line, lineOf(/self\.layers = nn\.ModuleList/));
    assert.equal(layers.how, 'module');
    const conv = findModuleDefinitions('conv1', [script]);
    const defs = script.text.split('\n').flatMap((l, i) => (/^\s*self\.conv1 = /.test(l) ? [i + 1] : []));
    assert.deepEqual(conv.map((c) => c.line), defs, 'every class that defines a conv1');
    const seq = { path: '/p/net.py', text: 'class Net(nn.Module):\n    def __init__(self):\n        self.features = nn.Sequential(\n            nn.Conv2d(3, 8, 3),  # stem\n            nn.ReLU(),\n            nn.Conv2d(8, 8, 3, padding=(1, 1)),\n        )\n' };
    assert.equal(findModuleDefinitions('features.2', [seq])[0].line, 6);
    assert.equal(findModuleDefinitions('features.0', [seq])[0].what, 'features[0]');
    assert.deepEqual(findModuleDefinitions('nothing_here', [seq]), []);
  });

  it('places each member of a grouped finding by its own id, the group by its first member, and leaves out what it cannot place', () => {
    const layer = (name: string, index: number) => ({ name, index, nodes: [name], parameters: [`w${index}`] });
    const report = {
      layers: [layer('/a/Gemm', 0), layer('/b/Gemm', 1), layer('/c/Gemm', 2), layer('/d/Gemm', 3)],
      parameters: [{ name: 'w3', shape: [2, 2], layer: '/d/Gemm' }],
      findings: [
        {
          id: 'contracting-layer:/a/Gemm../c/Gemm', rule: 'contracting-layer', severity: 'warning', layer: '/a/Gemm', message: 'group', why: 'why',
          members: [{ id: 'contracting-layer:/a/Gemm', layer: '/a/Gemm', message: 'a' }, { id: 'contracting-layer:/b/Gemm', layer: '/b/Gemm', message: 'b' }, { id: 'contracting-layer:/c/Gemm', layer: '/c/Gemm', message: 'c' }],
        },
        { id: 'mis-scaled-init:w3', rule: 'mis-scaled-init', severity: 'info', parameter: 'w3', message: 'w3', why: 'why' },
        { id: 'end-to-end-collapse', rule: 'end-to-end-collapse', severity: 'warning', message: 'whole model', why: 'why' },
      ] satisfies Finding[],
    } as unknown as AnalysisReport;
    // one line per node, and none for /b/Gemm (a node the exporter did not trace, no module of that name)
    const line: Record<string, number> = { '/a/Gemm': 10, '/c/Gemm': 30, '/d/Gemm': 40 };
    const at = (node: string): SourceMatch | undefined => (line[node] ? { file: 'model.py', line: line[node], how: 'stack', what: node } : undefined);
    const placed = locateFindings(report, at);
    assert.deepEqual(Object.fromEntries([...placed].map(([id, m]) => [id, m.line])), {
      'contracting-layer:/a/Gemm': 10,
      'contracting-layer:/a/Gemm../c/Gemm': 10,
      'contracting-layer:/c/Gemm': 30,
      'mis-scaled-init:w3': 40,
    });
  });
});

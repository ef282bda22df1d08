import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import { ROOT } from '../../helpers';
import { DataType } from '../../../src/core/onnx/types';
import { float32Tensor, tensorToFloat64 } from '../../../src/core/onnx/tensorData';
import { sentences } from '../../../src/core/diagnosis/group';
import { RULES } from '../../../src/core/diagnosis/registry';
import { resolveThresholds } from '../../../src/core/diagnosis/thresholds';
import { initSchemes, plausibleScheme } from '../../../src/core/diagnosis/rules/initialisation';
import { analyze, byLocation, byRule, load, variant } from './helpers';

/** Every rule: a model where it must fire and one where it must not (DOMAIN.md sections 1-10). */
describe('diagnosis rules', () => {
  it('vanishing-gradient: an error on the deep sigmoid MLP naming the layers where the gradient falls off', async () => {
    const [f] = byRule(await analyze('mlp_sigmoid'), 'vanishing-gradient');
    assert.equal(f.severity, 'error');
    assert.ok(f.measured! < 1e-8, `${f.measured}`);
    assert.deepEqual(f.range, ['/layers.0/Gemm', '/layers.11/Gemm']);
    assert.match(f.message, /\/layers\.0\/Gemm 0\.1\d+x/);
    assert.ok(f.remedies?.some((r) => r.kind === 'swap-activation' && r.to === 'Relu'));
    for (const clean of ['mlp_relu_he', 'resnet_small']) {
      const r = await analyze(clean);
      assert.deepEqual([...byRule(r, 'vanishing-gradient'), ...byRule(r, 'exploding-gradient')].filter((x) => x.severity === 'error'), [], clean);
    }
  });

  it('exploding-gradient: fires when every ReLU layer is scaled 1.8x, not on the He-initialised original', async () => {
    const scaled = variant('mlp_relu_he', Array.from({ length: 12 }, (_, i) => ({ kind: 'rescale' as const, parameter: `layers.${i}.weight`, factor: 1.8 })));
    const [f] = byRule(await analyze(scaled), 'exploding-gradient');
    assert.ok(f, 'exploding-gradient fires');
    assert.ok(f.measured! > 100);
    assert.match(f.fix!, /clip the global gradient norm at \d/);
    assert.deepEqual(byRule(await analyze('mlp_relu_he'), 'exploding-gradient'), []);
  });

  it('end-to-end-explosion and end-to-end-collapse', async () => {
    assert.equal(byRule(await analyze('mlp_tanh_overscaled'), 'end-to-end-explosion').length, 1);
    assert.equal(byRule(await analyze('mlp_sigmoid'), 'end-to-end-collapse').length, 1);
    for (const clean of ['mlp_relu_he', 'resnet_small']) {
      const r = await analyze(clean);
      assert.deepEqual([...byRule(r, 'end-to-end-explosion'), ...byRule(r, 'end-to-end-collapse')], [], clean);
    }
  });

  it('lyapunov-exponent: far from 0 for the sigmoid stack, near 0 for ReLU with He init, not judged with skips', async () => {
    const [f] = byRule(await analyze('mlp_sigmoid'), 'lyapunov-exponent');
    assert.ok(f.measured! < -1);
    assert.deepEqual(byRule(await analyze('mlp_relu_he'), 'lyapunov-exponent'), []);
    assert.deepEqual(byRule(await analyze('resnet_small'), 'lyapunov-exponent'), []);
  });

  it('exploding-layer: every over-scaled tanh layer, blaming the weights; none with He init', async () => {
    const found = byLocation(await analyze('mlp_tanh_overscaled'), 'exploding-layer');
    assert.equal(found.length, 10);
    for (const f of found) {
      assert.match(f.message, /weights are over-scaled/);
      assert.equal(f.remedies?.[0].kind, 'rescale');
      assert.ok(Math.abs((f.remedies![0] as { factor: number }).factor - 0.43) < 0.03);
    }
    assert.deepEqual(byRule(await analyze('mlp_relu_he'), 'exploding-layer'), []);
  });

  it('contracting-layer: sigmoid layers (blaming the activation), not ReLU with He init', async () => {
    const found = byLocation(await analyze('mlp_sigmoid'), 'contracting-layer');
    assert.equal(found.length, 12);
    assert.match(found[0].message, /slope is at most 0\.25/);
    assert.deepEqual(byRule(await analyze('mlp_relu_he'), 'contracting-layer'), []);
  });

  it('ill-conditioned-layer: the saturating tanh layers, with the weight-only condition beside; none in the transformer', async () => {
    const found = byLocation(await analyze('mlp_tanh_overscaled'), 'ill-conditioned-layer');
    assert.ok(found.length >= 5);
    assert.match(found[0].message, /its weight alone has condition \d+/);
    assert.deepEqual(byRule(await analyze('transformer'), 'ill-conditioned-layer'), []);
  });

  it('saturated-units: over-scaled tanh, not the sigmoid stack with small pre-activations', async () => {
    const found = byLocation(await analyze('mlp_tanh_overscaled'), 'saturated-units');
    assert.ok(found.length >= 5);
    assert.ok(found.every((f) => f.measured! > 0.1));
    assert.deepEqual(byRule(await analyze('mlp_sigmoid'), 'saturated-units'), []);
  });

  it('dead-units: a ReLU layer whose bias is -10, on 8 samples; not the He-initialised original, nor one sample', async () => {
    const m = load('mlp_relu_he');
    // the exporter shares the zero biases through Identity copies: give layer 3 its own
    m.graph.initializers.set('dead_bias', float32Tensor('dead_bias', [32], new Array(32).fill(-10)));
    m.graph.nodes.find((n) => n.name === '/layers.3/Gemm')!.inputs[2] = 'dead_bias';
    const [f] = byLocation(await analyze(m, { samples: 8 }), 'dead-units');
    assert.equal(f.layer, '/layers.3/Gemm');
    assert.equal(f.measured, 1);
    assert.deepEqual(byRule(await analyze('mlp_relu_he', { samples: 8 }), 'dead-units'), []);
    assert.deepEqual(byRule(await analyze(m), 'dead-units'), [], 'one sample says nothing about dead units');
  });

  it('mis-scaled-init: over-scaled tanh weights with the LeCun std; not He-initialised ReLU, not convs followed by BatchNorm', async () => {
    const found = byLocation(await analyze('mlp_tanh_overscaled'), 'mis-scaled-init');
    assert.equal(found.length, 10);
    assert.match(found[0].fix!, /LeCun: N\(0, 0\.177\^2\)/);
    assert.match(found[0].message, /matches no standard init scheme/);
    assert.deepEqual(byRule(await analyze('mlp_relu_he'), 'mis-scaled-init'), []);
    assert.deepEqual(byRule(await analyze('resnet_small'), 'mis-scaled-init'), []);
  });

  it('mis-scaled-init: PyTorch\'s default Linear init is named; flagged on a 12-layer plain ReLU stack, where it compounds, not in a residual transformer', async () => {
    // mlp_relu_he's weights rescaled to PyTorch's default variance, 1 / (3 fan_in) = He / 6
    const layers = Array.from({ length: 12 }, (_, i) => `layers.${i}.weight`);
    const m = variant('mlp_relu_he', layers.map((parameter) => ({ kind: 'rescale' as const, parameter, factor: 1 / Math.sqrt(6) })));
    const report = await analyze(m);
    const found = byLocation(report, 'mis-scaled-init');
    assert.ok(found.length >= 11, `${found.length}`);
    for (const f of found) {
      assert.match(f.message, /matches PyTorch's default \(kaiming_uniform, a = sqrt\(5\)\)/);
      assert.match(f.message, /plain stack of 12 layers/);
      assert.equal(f.thresholdName, 'vanishingGradientWarning');
    }
    // the same scheme on a post-norm transformer with residual joins does not compound through depth
    const t = await analyze('transformer');
    assert.deepEqual(byRule(t, 'mis-scaled-init'), []);
  });

  it('init schemes: each layer\'s variance is matched to the nearest standard scheme, fan-out He for a depthwise convolution', () => {
    const base = { name: 'w', layer: 'l', norm: 1, gradNorm: null, gradToWeightRatio: null, spectralNorm: null, kurtosis: 0 };
    // torchvision's depthwise 3x3 conv over 64 channels: fan_in 9, PyTorch's fan_out 64 x 9
    const dw = { ...base, shape: [64, 1, 3, 3], fanIn: 9, fanOut: 9, variance: 2 / (64 * 9) };
    assert.equal(plausibleScheme(dw, 1.5)?.name, 'He (fan-out)');
    const linear = { ...base, shape: [128, 32], fanIn: 32, fanOut: 128, variance: 1 / (3 * 32) };
    assert.match(plausibleScheme(linear, 1.5)!.name, /^PyTorch's default/);
    assert.equal(plausibleScheme({ ...linear, variance: 2 / 160 }, 1.5)?.name, 'Xavier');
    assert.equal(plausibleScheme({ ...linear, variance: 9 / 32 }, 1.5), undefined, '9/fan_in is 4.5x He: no scheme');
    const square = { ...base, shape: [32, 32], fanIn: 32, fanOut: 32, variance: 1 / 32 };
    assert.equal(plausibleScheme(square, 1.5)?.name, 'LeCun = Xavier');
    assert.equal(initSchemes(square).length, 3, 'He fan-in = He fan-out, LeCun = Xavier, PyTorch\'s default');
  });

  it('zero-init: a zero head and zero residual branches are deliberate (info), with no vanishing or collapse finding; a zero hidden weight is a warning', async () => {
    const head = await analyze('mlp_zero_head');
    const [h] = byRule(head, 'zero-init');
    assert.equal(h.severity, 'info');
    assert.equal(h.parameter, 'head.weight');
    assert.match(h.message, /Zero-initialised head/);
    assert.match(h.why, /first update makes it nonzero/);
    for (const rule of ['vanishing-gradient', 'end-to-end-collapse', 'contracting-layer', 'mis-scaled-init']) assert.deepEqual(byRule(head, rule), [], rule);
    assert.equal(head.verdict?.status, 'healthy');
    const branch = await analyze('resmlp_zero_branch');
    const members = byLocation(branch, 'zero-init');
    assert.deepEqual(members.map((f) => f.parameter).sort(), ['fc2.0.weight', 'fc2.1.weight', 'fc2.2.weight']);
    assert.ok(members.every((f) => f.severity === 'info' && /Zero-initialised residual branch/.test(f.message)));
    assert.equal(branch.verdict?.status, 'healthy');
    // a zero weight in the middle of a plain stack blocks the signal: not deliberate
    const hidden = variant('mlp_relu_he', [{ kind: 'rescale', parameter: 'layers.5.weight', factor: 0 }]);
    const [z] = byRule(await analyze(hidden), 'zero-init');
    assert.equal(z.severity, 'warning');
    assert.match(z.message, /Zero weight: layers\.5\.weight/);
  });

  it('heavy-tailed-weights: cubed Gaussian weights; not Gaussian ones', async () => {
    const m = load('mlp_relu_he');
    const w = tensorToFloat64(m.graph.initializers.get('layers.2.weight')!);
    m.graph.initializers.set('layers.2.weight', float32Tensor('layers.2.weight', [32, 32], w.map((x) => x ** 3)));
    const [f] = byRule(await analyze(m), 'heavy-tailed-weights');
    assert.equal(f.parameter, 'layers.2.weight');
    assert.ok(f.measured! > 6);
    assert.deepEqual(byRule(await analyze('mlp_relu_he'), 'heavy-tailed-weights'), []);
  });

  it('recurrent-spectral-radius: an LSTM is judged on its measured gradient through time, not its gates\' radii', async () => {
    const [f] = byRule(await analyze('lstm'), 'recurrent-spectral-radius');
    assert.match(f.message, /input 0\.\d+, output 0\.\d+, forget 0\.\d+, cell 0\.\d+/);
    assert.match(f.message, /Through time, the gradient at the first step is .+x the gradient at the last \(\d+ steps, measured\)/);
    assert.match(f.message, /Its forget gate keeps 0\.\d+ of the cell state a step/);
    // PyTorch's default LSTM (forget-gate bias about 0) over 16 steps: the measured factor is below the vanishing-gradient error
    assert.equal(f.measuredName, 'gradient through time, first step / last step');
    assert.ok(f.measured! < 1e-4, `${f.measured}`);
    assert.equal(f.severity, 'error');
    assert.equal(f.thresholdName, 'vanishingGradientError');
    assert.deepEqual(byRule(await analyze('mlp_relu_he'), 'recurrent-spectral-radius'), []);
  });

  it('recurrent-spectral-radius: a plain RNN\'s radius to the power of its steps, against the gradient-ratio thresholds', async () => {
    const orthogonal = await analyze('rnn_orthogonal');
    const [ok] = byRule(orthogonal, 'recurrent-spectral-radius');
    assert.equal(ok.severity, 'info', ok.message);
    assert.match(ok.message, /Over the 12 steps it runs at the samples, the gradient through time scales like 1(\.0+\d*)?\^11 = /);
    const r = load('rnn_orthogonal').graph.nodes.find((n) => n.opType === 'RNN')!.inputs[2];
    const [hot] = byRule(await analyze(variant('rnn_orthogonal', [{ kind: 'rescale', parameter: r, factor: 3 }])), 'recurrent-spectral-radius');
    assert.equal(hot.severity, 'error');
    assert.equal(hot.thresholdName, 'explodingGradientError');
    assert.ok(Math.abs(Math.log(hot.measured! / 3 ** 11)) < 0.05, `${hot.measured}`);
    const [cold] = byRule(await analyze(variant('rnn_orthogonal', [{ kind: 'rescale', parameter: r, factor: 0.5 }])), 'recurrent-spectral-radius');
    assert.equal(cold.severity, 'warning', '0.5^11 = 4.9e-4: between the vanishing-gradient warning and error');
    assert.equal(cold.thresholdName, 'vanishingGradientWarning');
  });

  it('learning-rate: the stable bound as info, a warning when the stated learning rate exceeds it', async () => {
    const info = byRule(await analyze('mlp_relu_he', { curvature: 8 }), 'learning-rate');
    assert.equal(info[0].severity, 'info');
    const lambda = info[0].measured!;
    assert.match(info[0].message, new RegExp(`SGD below ${(2 / lambda).toPrecision(3)}`));
    const [warn] = byRule(await analyze('mlp_relu_he', { curvature: 8, diagnosis: { training: { learningRate: 0.1 } } }), 'learning-rate');
    assert.equal(warn.severity, 'warning');
    assert.equal(warn.threshold, 2 / lambda);
    const [ok] = byRule(await analyze('mlp_relu_he', { curvature: 8, diagnosis: { training: { learningRate: 1e-4 } } }), 'learning-rate');
    assert.equal(ok.severity, 'info');
    assert.deepEqual(byRule(await analyze('mlp_relu_he'), 'learning-rate'), [], 'no curvature, no bound');
  });

  it('numeric hazards: each one fires on the hazard model, naming the node', async () => {
    const r = await analyze('numeric_hazards');
    const domain = byRule(r, 'numeric-domain');
    const sev = Object.fromEntries(domain.map((f) => [ r.numerics!.find((n) => n.node === f.node)!.opType, f.severity ]));
    assert.deepEqual(sev, { Log: 'error', Sqrt: 'error', Pow: 'error', Div: 'warning', Reciprocal: 'warning' });
    const unstable = byRule(r, 'unstable-softmax');
    assert.equal(unstable.length, 1, 'the max-subtracted form is not flagged');
    assert.equal(unstable[0].node, '/Exp');
    assert.equal(byRule(r, 'log-of-softmax').length, 1);
    const [masked] = byRule(r, 'fully-masked-row');
    assert.equal(masked.measured, 1);
    const [nan] = byRule(r, 'non-finite');
    assert.equal(nan.node, '/Log');
    assert.equal(r.verdict?.status, 'pathological');
  });

  it('numeric hazards: none on clean models, and a causal/padding mask\'s -inf is not flagged', async () => {
    const hazardRules = ['numeric-domain', 'unstable-softmax', 'log-of-softmax', 'fully-masked-row', 'non-finite'];
    for (const clean of ['mlp_relu_he', 'transformer', 'resnet_small']) {
      const r = await analyze(clean);
      assert.deepEqual(r.findings.filter((f) => hazardRules.includes(f.rule)), [], clean);
    }
  });

  it('plain-deep-stack and missing-normalization: the sigmoid stack and the tanh stack; not the ResNet', async () => {
    assert.equal(byRule(await analyze('mlp_sigmoid'), 'plain-deep-stack').length, 1);
    assert.equal(byRule(await analyze('mlp_tanh_overscaled'), 'missing-normalization').length, 1);
    const resnet = await analyze('resnet_small');
    assert.deepEqual([...byRule(resnet, 'plain-deep-stack'), ...byRule(resnet, 'missing-normalization')], []);
    assert.deepEqual(byRule(await analyze('mlp_relu_he'), 'plain-deep-stack'), []);
  });

  it('degenerate-batchnorm: a running variance of 0; not the ResNet as exported', async () => {
    const m = load('resnet_small');
    const name = 'layer1.0.bn1.running_var';
    const v = tensorToFloat64(m.graph.initializers.get(name)!);
    v[2] = 0;
    m.graph.initializers.set(name, { ...float32Tensor(name, [v.length], v), dataType: DataType.FLOAT });
    const [f] = byRule(await analyze(m), 'degenerate-batchnorm');
    assert.equal(f.parameter, name);
    assert.match(f.message, /scaled by up to 316/);
    assert.deepEqual(byRule(await analyze('resnet_small'), 'degenerate-batchnorm'), []);
  });

  it('the verdict leads with the finding that matters most, in one sentence', async () => {
    const sigmoid = await analyze('mlp_sigmoid');
    assert.equal(sigmoid.verdict?.status, 'pathological');
    assert.equal(sigmoid.verdict?.top, sigmoid.findings[0].id);
    assert.match(sigmoid.verdict!.headline, /^Pathological: Vanishing gradient: the gradient reaching \/layers\.0\/Gemm is [\d.e-]+ times the gradient leaving \/layers\.11\/Gemm\.$/);
    assert.ok(sigmoid.findings[0].message.startsWith(sigmoid.verdict!.headline.replace(/^Pathological: /, '')), 'the first sentence of the top finding');
    assert.ok(sentences(sigmoid.findings[0].message).length > 1, 'the top finding has more to say than the headline');
    for (const name of ['mlp_tanh_overscaled', 'numeric_hazards', 'lstm']) {
      const v = (await analyze(name)).verdict!;
      assert.deepEqual(sentences(v.headline), [v.headline], `${name}: ${v.headline}`);
    }
    assert.equal((await analyze('mlp_tanh_overscaled')).verdict?.status, 'at-risk');
    assert.equal((await analyze('mlp_relu_he')).verdict?.status, 'healthy');
  });

  it('thresholds override by name; unknown names and bad values are refused', async () => {
    const r = await analyze('mlp_tanh_overscaled', { diagnosis: { thresholds: { illConditioned: 1e9 } } });
    assert.deepEqual(byRule(r, 'ill-conditioned-layer'), []);
    assert.throws(() => resolveThresholds({ illconditioned: 1 }), /unknown threshold "illconditioned"/);
    assert.throws(() => resolveThresholds({ illConditioned: -1 }), /must be a non-negative number/);
  });

  it('every finding carries the fields of the report contract and follows the JSON Schema; rule ids are unique', async () => {
    assert.equal(new Set(RULES.map((r) => r.id)).size, RULES.length);
    const schema = JSON.parse(readFileSync(path.join(ROOT, 'schema', 'report.schema.json'), 'utf8'));
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
    for (const name of ['mlp_sigmoid', 'mlp_tanh_overscaled', 'numeric_hazards', 'lstm']) {
      const r = await analyze(name);
      assert.ok(validate(JSON.parse(JSON.stringify(r))), `${name}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
      assert.equal(new Set(r.findings.map((f) => f.id)).size, r.findings.length, `${name}: finding ids unique`);
      for (const f of r.findings) {
        for (const k of ['id', 'rule', 'severity', 'message', 'why'] as const) assert.ok(f[k], `${name} ${f.id}: ${k}`);
        assert.ok(RULES.some((x) => x.id === f.rule));
      }
    }
  });
});

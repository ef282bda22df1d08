import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forwardFlops, nodeFlops, productFlops } from '../../../src/core/autodiff/flops';
import { DerivativeRunner, ForwardPass } from '../../../src/core/autodiff/probe';
import { Rng } from '../../../src/core/inputs/rng';
import type { Node } from '../../../src/core/onnx/types';
import { defaultOpset } from '../../../src/core/onnx/types';
import { createOrtRunner } from '../../../src/runtime/ort';
import { loadModelFile } from '../../../src/runtime/modelFile';
import { model } from '../../helpers';

/**
 * resnet_small at 1x3x16x16, counted by hand from its graph (make_fixtures.py): the convolutions
 * 2 x output elements x C_in x k x k, the classifier 2 x 10 x 32, every other node its output elements.
 */
const CONVS_AND_GEMM =
  2 * 8 * 16 * 16 * (3 * 9) + // conv1
  2 * 2 * 8 * 16 * 16 * (8 * 9) + // layer1.0 conv1, conv2
  2 * 16 * 8 * 8 * 8 + // layer2.0 downsample (1x1, stride 2)
  2 * 16 * 8 * 8 * (8 * 9) + 2 * 16 * 8 * 8 * (16 * 9) + // layer2.0 conv1 (stride 2), conv2
  2 * 32 * 4 * 4 * 16 + // layer3.0 downsample
  2 * 32 * 4 * 4 * (16 * 9) + 2 * 32 * 4 * 4 * (32 * 9) + // layer3.0 conv1 (stride 2), conv2
  2 * 10 * 32; // fc
const CHEAP =
  7 * 8 * 16 * 16 + // bn1, relu, layer1.0: bn1, relu, bn2, add, relu
  6 * 16 * 8 * 8 + // layer2.0: downsample bn, bn1, relu, bn2, add, relu
  6 * 32 * 4 * 4 + // layer3.0 likewise
  2 * 32; // ReduceMean, Flatten

const node = (opType: string, inputs: string[], output: string, attributes: Node['attributes'] = []): Node => ({ name: output, opType, domain: '', inputs, outputs: [output], attributes, metadata: {} });

async function resnetSmall() {
  const loaded = loadModelFile(model('resnet_small'));
  const rng = new Rng(1);
  const image = { dtype: 'float32' as const, dims: [1, 3, 16, 16], data: Float32Array.from({ length: 768 }, () => rng.normal()) };
  const forward = await ForwardPass.run(loaded.model, { image }, createOrtRunner, 'cpu');
  return { loaded, forward, shapeOf: (t: string) => forward.shape(t) };
}

describe('flops', () => {
  it('counts a forward pass of resnet_small as the hand count', async () => {
    const { loaded, shapeOf } = await resnetSmall();
    assert.equal(forwardFlops(loaded.model.graph.nodes, shapeOf), CONVS_AND_GEMM + CHEAP);
    assert.equal(CONVS_AND_GEMM + CHEAP, 1642176);
  });

  it('counts MatMul with batch dimensions, Gemm with transA and ConvTranspose by their shapes', () => {
    const shapes: Record<string, number[]> = { a: [2, 3, 4, 5], b: [5, 6], ab: [2, 3, 4, 6], g: [7, 3], h: [7, 4], gh: [3, 4], x: [1, 2, 5, 5], w: [2, 3, 3, 3], y: [1, 3, 7, 7] };
    const shapeOf = (t: string) => shapes[t];
    assert.equal(nodeFlops(node('MatMul', ['a', 'b'], 'ab'), shapeOf), 2 * 2 * 3 * 4 * 6 * 5);
    assert.equal(nodeFlops(node('Gemm', ['g', 'h'], 'gh', [{ name: 'transA', type: 'int', value: 1 }]), shapeOf), 2 * 3 * 4 * 7);
    assert.equal(nodeFlops(node('ConvTranspose', ['x', 'w'], 'y'), shapeOf), 2 * (2 * 5 * 5) * (3 * 3 * 3));
    assert.equal(nodeFlops(node('MatMul', ['a', 'unknown'], 'unknown2'), shapeOf), 0, 'an unknown shape counts nothing');
  });

  it('counts a product op once per varying operand', () => {
    const shapes: Record<string, number[]> = { a: [4, 5], b: [5, 6], ab: [4, 6] };
    const mm = [node('MatMul', ['a', 'b'], 'ab')];
    assert.equal(productFlops(mm, ['a'], (t) => shapes[t]), 240);
    assert.equal(productFlops(mm, ['a', 'b'], (t) => shapes[t]), 480);
  });

  it('has the derivative runner add K x the span product FLOPs per run', async () => {
    const { loaded, forward } = await resnetSmall();
    const runner = new DerivativeRunner(forward, loaded.order, defaultOpset(loaded.model), createOrtRunner, 'cpu');
    try {
      const rng = new Rng(2);
      const vectors = [Array.from({ length: 3 }, () => Float64Array.from({ length: 768 }, () => rng.normal()))];
      await runner.jvp({ sources: ['image'], targets: ['logits'] }, vectors);
      assert.equal(runner.productFlops, 3 * 1642176, 'three tangents through the whole model, the weights fixed');
      // the gradient flow's product: the cotangents of the image and of every weight, so each convolution and the classifier twice
      const weights = loaded.model.graph.nodes.filter((n) => n.opType === 'Conv' || n.opType === 'Gemm').map((n) => n.inputs[1]);
      await runner.vjp({ sources: ['image', ...weights], targets: ['logits'] }, [[Float64Array.from({ length: 10 }, () => rng.normal())]]);
      assert.equal(runner.productFlops, 3 * 1642176 + 1642176 + CONVS_AND_GEMM);
    } finally {
      await runner.dispose();
    }
  });
});

import type { ForwardPass } from '../autodiff/probe';
import { toNumbers } from '../ndarray';
import type { Layer } from './layers';

/** A sigmoid unit is saturated when its output is within this of 0 or 1 (slope below ~0.01). */
export const SIGMOID_SATURATION = 0.01;
/** A tanh unit is saturated when |y| exceeds this (slope 1 - y^2 below ~0.02). */
export const TANH_SATURATION = 0.99;

/** Tracks, per layer, which output units were saturated (sigmoid/tanh) or inactive (ReLU) on every sample so far. */
export class SaturationTracker {
  private readonly masks = new Map<number, Uint8Array>();

  /** Folds in one sample's activations. */
  add(layers: Layer[], forward: ForwardPass): void {
    for (const layer of layers) {
      const last = layer.opTypes[layer.opTypes.length - 1];
      const test = TESTS[last];
      const y = forward.values.get(layer.outputTensors[0]);
      if (!test || !y) continue;
      const v = toNumbers(y);
      const prev = this.masks.get(layer.index);
      const mask = prev ?? new Uint8Array(v.length).fill(1);
      if (mask.length !== v.length) continue;
      for (let i = 0; i < v.length; i++) if (!test(v[i])) mask[i] = 0;
      this.masks.set(layer.index, mask);
    }
  }

  /** The fraction of units saturated or dead on all samples, for a layer ending in sigmoid, tanh or ReLU. */
  result(layer: Layer): { kind: 'saturated' | 'dead'; fraction: number } | null {
    const mask = this.masks.get(layer.index);
    if (!mask || mask.length === 0) return null;
    const last = layer.opTypes[layer.opTypes.length - 1];
    const count = mask.reduce((a, b) => a + b, 0);
    return { kind: last === 'Relu' ? 'dead' : 'saturated', fraction: count / mask.length };
  }
}

const TESTS: Record<string, (y: number) => boolean> = {
  Sigmoid: (y) => y < SIGMOID_SATURATION || y > 1 - SIGMOID_SATURATION,
  Tanh: (y) => Math.abs(y) > TANH_SATURATION,
  Relu: (y) => y <= 0,
};

import { defaultOpset, getAttribute, type Model, type Node } from '../onnx/types';
import { scanGraph, type GraphScan } from './graphScan';

/** A size the graph suggests for a symbolic dimension, and what suggests it. */
export interface SizeHint {
  size: number;
  /** What kind of hint: a size the graph needs (Pad, kernel), a Reshape constant, or model metadata. */
  from: 'pad' | 'kernel' | 'reshape' | 'metadata';
  /** e.g. "Pad '/stft/Pad' reflects 96 values, which needs more than 96". */
  reason: string;
}

/** Hints above this size are not tried (an attention over 4096 positions is already large). */
export const MAX_HINTED_SIZE = 4096;

/** Metadata keys whose integer values may be an input length (window_size_samples, chunk_length, ...). */
const SIZE_METADATA = /size|len|window|chunk|frame|sample|seq|context/i;
/** Reshape constants up to this (head counts, pairs, the default sequence) say nothing about a length. */
const MIN_RESHAPE_HINT = 16;
const POOLS = new Set(['AveragePool', 'MaxPool', 'LpPool']);

/**
 * Sizes the graph suggests for its inputs' symbolic dimensions: more than a reflect Pad's widest pad,
 * at least a convolution's or pool's kernel extent (both rounded up to a power of two), the
 * constants of Reshape targets above {@link MIN_RESHAPE_HINT}, and integer model metadata named like
 * a length. Each size once (the first reason found), smallest first, none above {@link MAX_HINTED_SIZE}.
 */
export function suggestSizes(model: Model): SizeHint[] {
  const scan = scanGraph(model);
  const opset = defaultOpset(model);
  const hints: SizeHint[] = [];
  for (const node of scan.nodes) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
    if (node.opType === 'Pad') hints.push(...padHint(node, scan, opset));
    else if (node.opType === 'Conv' || POOLS.has(node.opType)) hints.push(...kernelHint(node, scan));
    else if (node.opType === 'Reshape') {
      for (const v of scan.constant(node.inputs[1]) ?? []) {
        if (Number.isInteger(v) && v > MIN_RESHAPE_HINT) hints.push({ size: v, from: 'reshape', reason: `Reshape '${node.name}' reshapes to a dimension of ${v}` });
      }
    }
  }
  for (const [key, value] of Object.entries(model.metadata)) {
    const v = Number(value);
    if (SIZE_METADATA.test(key) && /^\d+$/.test(value.trim()) && v > 1) hints.push({ size: v, from: 'metadata', reason: `the model's metadata says ${key} = ${v}` });
  }
  const bySize = new Map<number, SizeHint>();
  // a size the graph needs is the better reason than a Reshape constant of the same size
  hints.sort((a, b) => Number(a.from === 'reshape') - Number(b.from === 'reshape'));
  for (const h of hints) if (h.size <= MAX_HINTED_SIZE && !bySize.has(h.size)) bySize.set(h.size, h);
  return [...bySize.values()].sort((a, b) => a.size - b.size);
}

function padHint(node: Node, scan: GraphScan, opset: number): SizeHint[] {
  const mode = getAttribute(node, 'mode');
  if (mode?.type !== 'string' || (mode.value !== 'reflect' && mode.value !== 'wrap')) return [];
  const padsAttr = getAttribute(node, 'pads');
  const pads = opset < 11 || padsAttr ? (padsAttr?.type === 'ints' ? padsAttr.value : undefined) : scan.constant(node.inputs[1]);
  const widest = Math.max(0, ...(pads ?? []));
  if (!Number.isInteger(widest) || widest < 1) return [];
  return [{ size: nextPowerOfTwo(widest + 1), from: 'pad', reason: `Pad '${node.name}' ${mode.value === 'reflect' ? 'reflects' : 'wraps'} ${widest} values, which needs more than ${widest}` }];
}

function kernelHint(node: Node, scan: GraphScan): SizeHint[] {
  const kernelAttr = getAttribute(node, 'kernel_shape');
  let kernel = kernelAttr?.type === 'ints' ? kernelAttr.value : undefined;
  if (!kernel && node.opType === 'Conv') kernel = convKernel(node, scan);
  if (!kernel) return [];
  const dilationsAttr = getAttribute(node, 'dilations');
  const dilations = dilationsAttr?.type === 'ints' ? dilationsAttr.value : [];
  const extent = Math.max(0, ...kernel.map((k, i) => (k - 1) * (dilations[i] ?? 1) + 1));
  if (!Number.isInteger(extent) || extent < 2) return [];
  return [{ size: nextPowerOfTwo(extent), from: 'kernel', reason: `${node.opType} '${node.name}' has a kernel of ${extent}` }];
}

/** A Conv's kernel from its weight initializer's dims, when the attribute is absent. */
function convKernel(node: Node, scan: GraphScan): number[] | undefined {
  const dims = scan.weightDims(node.inputs[1]);
  return dims && dims.length > 2 ? dims.slice(2) : undefined;
}

function nextPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}

/**
 * Floating-point operations of one run of an ONNX model at given input sizes, counted from its
 * graph (shapes propagated as the memory estimate does): 2 per multiply-add of Conv,
 * ConvTranspose, MatMul and Gemm, one per output element of any other node. The benchmark's floor
 * divides the FLOPs of every run the analysis made by the rate onnxruntime reaches on the model's
 * plain forward pass.
 */
import { propagateShapes } from '../src/core/analysis/memory';
import { getAttribute, type Model, type Node } from '../src/core/onnx/types';

const size = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

function nodeFlops(node: Node, out: number[], ins: Array<number[] | undefined>): number {
  const group = (() => {
    const g = getAttribute(node, 'group');
    return g?.type === 'int' ? g.value : 1;
  })();
  const w = ins[1];
  switch (node.opType) {
    case 'Conv':
      // each output element: Cin/group x kernel multiply-adds
      return w ? 2 * size(out) * size(w.slice(1)) : size(out);
    case 'ConvTranspose':
      // each input element: Cout/group x kernel multiply-adds (weight [Cin, Cout/group, k...])
      return w && ins[0] ? 2 * size(ins[0]) * size(w.slice(1)) : size(out);
    case 'MatMul':
      return ins[0] ? 2 * size(out) * ins[0][ins[0].length - 1] : size(out);
    case 'Gemm': {
      const a = ins[0];
      const transA = getAttribute(node, 'transA');
      const k = a ? (transA?.type === 'int' && transA.value ? a[0] : a[a.length - 1]) : 1;
      return 2 * size(out) * k;
    }
    default:
      return group > 0 ? size(out) : 0;
  }
}

/** FLOPs of one run of `model` with these input sizes. */
export function modelFlops(model: Model, inputDims: Map<string, number[]>): number {
  let total = 0;
  propagateShapes(model, inputDims, (node, out, ins) => (total += nodeFlops(node, out, ins)));
  return total;
}

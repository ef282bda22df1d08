import { getAttribute, type Node } from '../onnx/types';

/** A tensor's dimensions at the sample (undefined when unknown: the node then counts 0). */
export type ShapeOf = (tensor: string) => readonly number[] | undefined;

/** Ops whose cost is a product of two operands (a multiply and an add per term): everything else counts its output elements. */
const PRODUCT_OPS = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm']);

const count = (dims: readonly number[] | undefined): number => (dims ? dims.reduce((a, b) => a * b, 1) : 0);

/**
 * Floating-point operations of one node's forward computation at the sample's shapes, a multiply
 * and an add counting two: Conv 2 x output elements x (C_in / group) x kernel (the weight's
 * dimensions past the first), ConvTranspose 2 x input elements x (C_out / group) x kernel, MatMul
 * 2 x output elements x K (batch dimensions included), Gemm 2 M N K; any other op its output
 * elements (elementwise ops, normalisations, pools and reshapes are cheap beside these). Biases
 * are not counted.
 */
export function nodeFlops(node: Node, shapeOf: ShapeOf): number {
  const [a, b] = node.inputs;
  switch (node.opType) {
    case 'Conv':
      return 2 * count(shapeOf(node.outputs[0])) * count(shapeOf(b)?.slice(1));
    case 'ConvTranspose':
      return 2 * count(shapeOf(a)) * count(shapeOf(b)?.slice(1));
    case 'MatMul': {
      const x = shapeOf(a);
      return x && x.length > 0 ? 2 * count(shapeOf(node.outputs[0])) * x[x.length - 1] : 0;
    }
    case 'Gemm': {
      const x = shapeOf(a);
      if (!x || x.length !== 2) return 0;
      const transA = getAttribute(node, 'transA')?.value === 1;
      return 2 * count(shapeOf(node.outputs[0])) * (transA ? x[0] : x[1]);
    }
    default:
      return node.outputs.reduce((s, o) => s + (o ? count(shapeOf(o)) : 0), 0);
  }
}

/** The forward FLOPs of a set of nodes ({@link nodeFlops} summed): a plain forward pass when they are a whole graph's. */
export function forwardFlops(nodes: readonly Node[], shapeOf: ShapeOf): number {
  return nodes.reduce((s, n) => s + nodeFlops(n, shapeOf), 0);
}

/**
 * The FLOPs of one Jacobian-vector or vector-Jacobian product (one vector) through `nodes`, the
 * nodes between `varying` tensors (a span's sources, and any tensor whose cotangent is also asked
 * for) and its targets, at the forward pass's values: a product op (Conv, MatMul, Gemm) costs its
 * forward FLOPs once for each of its two operands that varies, since d(A B) = dA B + A dB forward
 * and, in reverse, the cotangents of A and of B are each a product of the forward's size (the
 * weight gradient when a weight is differentiated); other ops their output elements. The floor a
 * product cannot go below, whatever the engine: the benchmark's `floor` column sums it over the
 * products an analysis made.
 */
export function productFlops(nodes: readonly Node[], varying: Iterable<string>, shapeOf: ShapeOf): number {
  const live = new Set(varying);
  for (const n of nodes) for (const o of n.outputs) if (o) live.add(o);
  let total = 0;
  for (const n of nodes) {
    const f = nodeFlops(n, shapeOf);
    total += PRODUCT_OPS.has(n.opType) ? f * Math.max(1, n.inputs.slice(0, 2).filter((x) => live.has(x)).length) : f;
  }
  return total;
}

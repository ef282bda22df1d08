import { DoctorError } from '../errors';
import { getAttribute, type Model, type Node } from '../onnx/types';
import { GraphBuilder } from './builder';

/** Recurrent ops that {@link unrollRecurrent} rewrites. */
export const RECURRENT_OPS = new Set(['LSTM', 'GRU', 'RNN']);

/** True when the model has a recurrent node. */
export function hasRecurrent(model: Model): boolean {
  return model.graph.nodes.some((n) => RECURRENT_OPS.has(n.opType) && (n.domain === '' || n.domain === 'ai.onnx'));
}

/** What the rewrite needs to know about each recurrent node's input at the sample. */
export type ShapeOf = (tensor: string) => number[] | undefined;

/** The hidden state after each step of an unrolled recurrent node, for gradient-through-time figures. */
export interface UnrolledSteps {
  node: string;
  /** Tensor names of H_1 .. H_T. */
  hidden: string[];
}

/**
 * Rewrites LSTM, GRU and RNN nodes (forward, reverse or bidirectional, default activations) into the equivalent
 * unrolled graph of MatMul, Add, Sigmoid, Tanh, Mul and Split nodes, so that every derivative
 * rule applies through time ("time is depth", DOMAIN.md section 7). The sequence length comes
 * from the sample. Output names are kept, so layers and spans still refer to the same tensors.
 */
export function unrollRecurrent(model: Model, shapeOf: ShapeOf): { model: Model; steps: UnrolledSteps[] } {
  const nodes: Node[] = [];
  const steps: UnrolledSteps[] = [];
  const constants = new Map(model.graph.initializers);
  for (const node of model.graph.nodes) {
    if (!RECURRENT_OPS.has(node.opType)) {
      nodes.push(node);
      continue;
    }
    const b = new GraphBuilder(`${node.name || node.opType}/unrolled/`);
    const hidden = unrollNode(node, b, shapeOf);
    for (const n of b.nodes) nodes.push({ ...n, name: n.name });
    for (const [k, v] of b.constants) constants.set(k, v);
    steps.push({ node: node.name, hidden });
  }
  return { model: { ...model, graph: { ...model.graph, nodes, initializers: constants } }, steps };
}

function attrInt(node: Node, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  return a?.type === 'int' ? a.value : fallback;
}

function unrollNode(node: Node, b: GraphBuilder, shapeOf: ShapeOf): string[] {
  const unsupported = (why: string) => new DoctorError('unsupported', `cannot unroll ${node.opType} node '${node.name}': ${why}`);
  const directionAttr = getAttribute(node, 'direction');
  const direction = directionAttr?.type === 'string' ? directionAttr.value : 'forward';
  if (!['forward', 'reverse', 'bidirectional'].includes(direction)) throw unsupported(`direction '${direction}'`);
  if (getAttribute(node, 'activations') || getAttribute(node, 'clip')) throw unsupported('custom activations or clipping');
  if (attrInt(node, 'layout', 0) !== 0) throw unsupported('layout 1');
  if (node.opType === 'LSTM' && attrInt(node, 'input_forget', 0) !== 0) throw unsupported('input_forget');
  const [X, W, R, B, seqLens, initialH, initialC, P] = node.inputs;
  if (seqLens) throw unsupported('sequence_lens (variable lengths)');
  if (P) throw unsupported('peephole weights');
  const xs = shapeOf(X);
  const ws = shapeOf(W);
  if (!xs || !ws) throw unsupported('unknown input shapes');
  const gates = node.opType === 'LSTM' ? 4 : node.opType === 'GRU' ? 3 : 1;
  const dirs = direction === 'bidirectional' ? 2 : 1;
  const runs = Array.from({ length: dirs }, (_, d) =>
    unrollDirection(node, b, { X, W, R, B, initialH, initialC }, d, direction === 'reverse' || d === 1, xs, ws[1] / gates, gates));
  const [Y, Yh, Yc] = node.outputs;
  const emit = (output: string, opType: string, inputs: string[], attrs: Node['attributes']) =>
    b.nodes.push({ name: `${node.name}/unrolled/${output}`, opType, domain: '', inputs, outputs: [output], attributes: attrs, metadata: {} });
  const axis = (a: number) => [{ name: 'axis', type: 'int' as const, value: a }];
  if (Y) {
    // [seq, dirs, batch, H]: each direction's states in time order
    const perDir = runs.map((r) => b.op('Unsqueeze', [b.op('Concat', r.hs.map((x) => b.op('Unsqueeze', [x, b.int64([0])])), { axis: 0 }), b.int64([1])]));
    if (perDir.length === 1) emit(Y, 'Identity', [perDir[0]], []);
    else emit(Y, 'Concat', perDir, axis(1));
  }
  const stackLast = (output: string, pick: (r: DirectionRun) => string) => {
    const parts = runs.map((r) => b.op('Unsqueeze', [pick(r), b.int64([0])]));
    if (parts.length === 1) emit(output, 'Identity', parts, []);
    else emit(output, 'Concat', parts, axis(0));
  };
  if (Yh) stackLast(Yh, (r) => r.hLast);
  if (Yc && node.opType === 'LSTM') stackLast(Yc, (r) => r.cLast as string);
  return runs.flatMap((r) => r.hs);
}

interface DirectionRun {
  /** Hidden states in time order (index t is the state after reading x_t). */
  hs: string[];
  hLast: string;
  cLast?: string;
}

function unrollDirection(
  node: Node,
  b: GraphBuilder,
  io: { X: string; W: string; R: string; B?: string; initialH?: string; initialC?: string },
  d: number,
  reverse: boolean,
  xs: number[],
  hiddenSize: number,
  gates: number,
): DirectionRun {
  const [seq, batch] = xs;
  const pick = (t: string) => b.op('Squeeze', [b.op('Gather', [t, b.int64([d])], { axis: 0 }), b.int64([0])]);
  const wt = b.op('Transpose', [pick(io.W)], { perm: [1, 0] }); // [input, G*H]
  const rt = b.op('Transpose', [pick(io.R)], { perm: [1, 0] }); // [H, G*H]
  const bias = io.B ? pick(io.B) : undefined; // [2*G*H]: Wb then Rb
  const wb = bias ? b.op('Slice', [bias, b.int64([0]), b.int64([gates * hiddenSize]), b.int64([0])]) : undefined;
  const rb = bias ? b.op('Slice', [bias, b.int64([gates * hiddenSize]), b.int64([2 * gates * hiddenSize]), b.int64([0])]) : undefined;
  let xw = b.op('MatMul', [io.X, wt]); // [seq, batch, G*H]
  if (wb) xw = b.op('Add', [xw, wb]);
  const zeros = () => b.tensor([batch, hiddenSize], new Array(batch * hiddenSize).fill(0));
  let h = io.initialH ? pick(io.initialH) : zeros();
  let c = node.opType === 'LSTM' ? (io.initialC ? pick(io.initialC) : zeros()) : undefined;
  const hs = new Array<string>(seq);
  const split = b.int64(new Array(gates).fill(hiddenSize));
  for (let step = 0; step < seq; step++) {
    const t = reverse ? seq - 1 - step : step;
    const xt = b.op('Squeeze', [b.op('Gather', [xw, b.int64([t])], { axis: 0 }, `d${d}x${t}`), b.int64([0])]);
    let hr = b.op('MatMul', [h, rt]);
    if (rb && node.opType !== 'GRU') hr = b.op('Add', [hr, rb]);
    if (node.opType === 'LSTM') {
      const [i, o, f, g] = b.opMulti('Split', [b.op('Add', [xt, hr]), split], 4, { axis: -1 });
      const ig = b.op('Sigmoid', [i]);
      const og = b.op('Sigmoid', [o]);
      const fg = b.op('Sigmoid', [f]);
      const cg = b.op('Tanh', [g]);
      c = b.op('Add', [b.op('Mul', [fg, c as string]), b.op('Mul', [ig, cg])], {}, `d${d}c${t}`);
      h = b.op('Mul', [og, b.op('Tanh', [c])], {}, `d${d}h${t}`);
    } else if (node.opType === 'GRU') {
      // gates z, r, h; linear_before_reset chooses where the reset gate applies
      const [xz, xr, xh] = b.opMulti('Split', [xt, split], 3, { axis: -1 });
      const rbParts = rb ? b.opMulti('Split', [rb, split], 3, { axis: -1 }) : [];
      const [rz, rr, rh] = b.opMulti('Split', [hr, split], 3, { axis: -1 });
      const addBias = (x: string, k: number) => (rbParts[k] ? b.op('Add', [x, rbParts[k]]) : x);
      const z = b.op('Sigmoid', [b.op('Add', [xz, addBias(rz, 0)])]);
      const r = b.op('Sigmoid', [b.op('Add', [xr, addBias(rr, 1)])]);
      let candidate: string;
      if (attrInt(node, 'linear_before_reset', 0) === 1) {
        candidate = b.op('Tanh', [b.op('Add', [xh, b.op('Mul', [r, addBias(rh, 2)])])]);
      } else {
        const rhH = b.op('MatMul', [b.op('Mul', [r, h]), b.op('Slice', [rt, b.int64([2 * hiddenSize]), b.int64([3 * hiddenSize]), b.int64([1])])]);
        candidate = b.op('Tanh', [b.op('Add', [xh, addBias(rhH, 2)])]);
      }
      // H = (1 - z) * candidate + z * H_prev
      const one = b.tensor([], [1]);
      h = b.op('Add', [b.op('Mul', [b.op('Sub', [one, z]), candidate]), b.op('Mul', [z, h])], {}, `d${d}h${t}`);
    } else {
      h = b.op('Tanh', [b.op('Add', [xt, hr])], {}, `d${d}h${t}`);
    }
    hs[t] = h;
  }
  return { hs, hLast: h, cLast: c };
}

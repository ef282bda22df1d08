import { DoctorError } from '../errors';
import type { NdArray } from '../ndarray';
import { sizeOf } from '../ndarray';
import type { Graph, Model, Node, Tensor, ValueInfo } from '../onnx/types';
import type { ExecutionProviderPreference, RunnerFactory, TensorRunner } from '../ports';
import { allInputs, spanNodes, type Span } from './derivative';
import type { ForwardPass, VectorBatch } from './probe';

/** Relative central-difference step in float32: about the cube root of machine epsilon (DOMAIN.md section 4). */
export const FD_RELATIVE_STEP = 5e-3;

/**
 * Jacobian-vector products of a span by central differences of its own forward computation,
 * (f(x + h v) - f(x - h v)) / 2h: the fallback for spans with an operator that has no derivative
 * rule. Two runs of the span's forward model per vector; figures that use it are estimates, and
 * {@link jvpWithError} gives a Richardson estimate of their error.
 */
export class FiniteDifferenceRunner {
  private session: Promise<{ runner: TensorRunner; primalInputs: string[] }> | undefined;
  runs = 0;

  constructor(
    private readonly forward: ForwardPass,
    private readonly order: number[],
    private readonly span: Span,
    private readonly createRunner: RunnerFactory,
    private readonly ep: ExecutionProviderPreference,
  ) {}

  /** J v for one vector per source, with step `scale` times the relative step. */
  async jvp(v: Float64Array[], stepScale = 1): Promise<Float64Array[]> {
    const { runner, primalInputs } = await this.compiled();
    const steps = this.span.sources.map((s, i) => {
      const x = this.forward.values.get(s);
      if (!x) throw new DoctorError('runtime', `no forward value for '${s}'`);
      const xs = x.data as Float32Array;
      const rms = Math.sqrt(xs.reduce((a, b) => a + b * b, 0) / Math.max(xs.length, 1));
      const vrms = Math.sqrt(v[i].reduce((a, b) => a + b * b, 0) / Math.max(v[i].length, 1));
      return (FD_RELATIVE_STEP * stepScale * Math.max(rms, 1e-3)) / Math.max(vrms, 1e-30);
    });
    const h = Math.min(...steps);
    const run = async (sign: number) => {
      const feeds: Record<string, NdArray> = {};
      this.span.sources.forEach((s, i) => {
        const x = this.forward.values.get(s) as NdArray;
        const base = x.data as Float32Array | Float64Array;
        const data = x.dtype === 'float64' ? new Float64Array(base.length) : new Float32Array(base.length);
        for (let j = 0; j < base.length; j++) data[j] = base[j] + sign * h * v[i][j];
        feeds[s] = { dtype: x.dtype, dims: x.dims, data } as NdArray;
      });
      for (const p of primalInputs) feeds[p] = this.forward.values.get(p) as NdArray;
      this.runs++;
      return runner.run(feeds, this.span.targets);
    };
    const plus = await run(1);
    const minus = await run(-1);
    return this.span.targets.map((t) => Float64Array.from(plus[t].data as Float32Array, (p, j) => (p - Number(minus[t].data[j])) / (2 * h)));
  }

  /** J v for K vectors (sequentially: the span's forward model has the sample's fixed shapes). */
  async jvpBatch(vectors: VectorBatch[]): Promise<VectorBatch[]> {
    const k = vectors[0]?.length ?? 0;
    const out: VectorBatch[] = this.span.targets.map(() => []);
    for (let r = 0; r < k; r++) {
      const res = await this.jvp(vectors.map((batch) => batch[r]));
      res.forEach((x, t) => out[t].push(x));
    }
    return out;
  }

  async dispose(): Promise<void> {
    const s = await this.session?.catch(() => undefined);
    await s?.runner.dispose();
  }

  private compiled() {
    if (!this.session) {
      this.session = (async () => {
        const { model, primalInputs } = spanForwardModel(this.forward.model, this.order, this.forward, this.span);
        return { runner: await this.createRunner(model, { executionProvider: this.ep }), primalInputs };
      })();
    }
    return this.session;
  }
}

/** The span's own nodes as a model: sources and the other tensors they read become inputs. */
export function spanForwardModel(model: Model, order: number[], forward: ForwardPass, span: Span): { model: Model; primalInputs: string[] } {
  const nodes = spanNodes(model.graph, order, span);
  const produced = new Set<string>([...span.sources, ...nodes.flatMap((n) => n.outputs)]);
  const initializers = new Map<string, Tensor>();
  const primalInputs: string[] = [];
  for (const n of nodes) {
    for (const x of allInputs(n)) {
      if (!x || produced.has(x)) continue;
      produced.add(x);
      const init = model.graph.initializers.get(x);
      if (init) initializers.set(x, init);
      else primalInputs.push(x);
    }
  }
  const info = (name: string): ValueInfo => ({ name, type: { kind: 'tensor', elemType: forward.dtype(name) ?? 1, shape: forward.shape(name) } });
  const graph: Graph = {
    name: 'span', nodes, initializers, valueInfo: [], metadata: {}, passthrough: {},
    inputs: [...span.sources, ...primalInputs].map(info),
    outputs: span.targets.map(info),
  };
  if (span.targets.some((t) => sizeOf(forward.shape(t) ?? []) === 0)) throw new DoctorError('runtime', 'empty span output');
  return { model: { ...model, graph }, primalInputs };
}

/** Elementwise operators without a rule whose slope f'(x) may be estimated by finite differences. */
export const FD_ELEMENTWISE = new Set([
  'Softsign', 'Selu', 'Celu', 'Mish', 'Gelu', 'ThresholdedRelu', 'Shrink', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan',
  'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Swish',
]);

/** An estimated slope and the largest Richardson error of its entries, relative to the largest slope. */
export interface EstimatedSlope {
  values: Float64Array;
  relativeError: number;
}

/**
 * f'(x) of an elementwise node at the sample, by central differences with a per-element step
 * (5e-3 times max(|x|, 1e-2)), all elements at once; Richardson's estimate (steps h and 2h) gives
 * the error.
 */
export async function elementwiseSlope(node: Node, forward: ForwardPass, createRunner: RunnerFactory, ep: ExecutionProviderPreference): Promise<EstimatedSlope> {
  const xName = node.inputs[0];
  const x = forward.values.get(xName);
  if (!x || (x.dtype !== 'float32' && x.dtype !== 'float64')) throw new DoctorError('runtime', `no float value for '${xName}'`);
  const single: Model = {
    ...forward.model,
    graph: {
      name: 'slope', nodes: [{ ...node, inputs: [xName], outputs: [node.outputs[0]] }], initializers: new Map(), valueInfo: [], metadata: {}, passthrough: {},
      inputs: [{ name: xName, type: { kind: 'tensor', elemType: forward.dtype(xName) ?? 1, shape: x.dims } }],
      outputs: [{ name: node.outputs[0] }],
    },
  };
  const runner = await createRunner(single, { executionProvider: ep });
  try {
    const base = x.data as Float32Array | Float64Array;
    const slopeAt = async (scale: number) => {
      const h = Float64Array.from(base, (v) => FD_RELATIVE_STEP * scale * Math.max(Math.abs(v), 1e-2));
      const shifted = async (sign: number) => {
        const data = x.dtype === 'float64' ? new Float64Array(base.length) : new Float32Array(base.length);
        for (let i = 0; i < base.length; i++) data[i] = base[i] + sign * h[i];
        const out = await runner.run({ [xName]: { dtype: x.dtype, dims: x.dims, data } as NdArray });
        return out[node.outputs[0]].data as Float32Array | Float64Array;
      };
      const plus = await shifted(1);
      const minus = await shifted(-1);
      return Float64Array.from(plus, (p, i) => (p - minus[i]) / (2 * h[i]));
    };
    const s1 = await slopeAt(1);
    const s2 = await slopeAt(2);
    const scale = Math.max(...s1.map(Math.abs), 1e-30);
    const err = s1.reduce((m, v, i) => Math.max(m, Math.abs(v - s2[i]) / 3), 0);
    return { values: s1, relativeError: err / scale };
  } finally {
    await runner.dispose();
  }
}

/** Nodes without a rule whose local Jacobian is assembled by finite differences, up to this many inputs. */
export const FD_NODE_MAX_INPUTS = 1024;

/** A node's local Jacobian d output[0] / d input[0] (m x n, row-major), estimated by central differences. */
export interface EstimatedJacobian {
  matrix: Float64Array;
  m: number;
  n: number;
  relativeError: number;
}

/**
 * The local Jacobian of a node without a rule with respect to its first input, the other inputs held
 * at their sample values: n pairs of runs of the node alone at steps h and 2h (Richardson error).
 */
export async function nodeJacobian(node: Node, forward: ForwardPass, createRunner: RunnerFactory, ep: ExecutionProviderPreference): Promise<EstimatedJacobian> {
  // weights stay initializers; a tensor read twice (an LSTM's initial h and c from one ConstantOfShape) is one input
  const weights = forward.model.graph.initializers;
  const xName = node.inputs[0];
  const inputs = [...new Set(node.inputs.filter((t) => t && (t === xName || !weights.has(t))))];
  const x = forward.values.get(xName);
  const yName = node.outputs[0];
  if (!x || (x.dtype !== 'float32' && x.dtype !== 'float64')) throw new DoctorError('runtime', `no float value for '${xName}'`);
  const single: Model = {
    ...forward.model,
    graph: {
      name: 'node', nodes: [{ ...node, outputs: [yName] }], valueInfo: [], metadata: {}, passthrough: {},
      initializers: new Map(node.inputs.filter((t) => t !== xName && weights.has(t)).map((t) => [t, weights.get(t) as Tensor])),
      inputs: inputs.map((name) => ({ name, type: { kind: 'tensor' as const, elemType: forward.dtype(name) ?? 1, shape: forward.shape(name) } })),
      outputs: [{ name: yName }],
    },
  };
  const runner = await createRunner(single, { executionProvider: ep });
  try {
    const base = x.data as Float32Array | Float64Array;
    const n = base.length;
    const others: Record<string, NdArray> = {};
    for (const name of inputs.slice(1)) others[name] = forward.values.get(name) as NdArray;
    const at = async (col: number, delta: number) => {
      const data = x.dtype === 'float64' ? Float64Array.from(base) : Float32Array.from(base);
      data[col] += delta;
      const out = await runner.run({ ...others, [xName]: { dtype: x.dtype, dims: x.dims, data } as NdArray });
      return out[yName].data as Float32Array | Float64Array;
    };
    const m = (forward.values.get(yName)?.data.length ?? 0);
    const matrix = new Float64Array(m * n);
    let err = 0;
    let scale = 0;
    for (let col = 0; col < n; col++) {
      const h = FD_RELATIVE_STEP * Math.max(Math.abs(base[col]), 1e-2);
      const [p1, m1, p2, m2] = [await at(col, h), await at(col, -h), await at(col, 2 * h), await at(col, -2 * h)];
      for (let r = 0; r < m; r++) {
        const d1 = (p1[r] - m1[r]) / (2 * h);
        const d2 = (p2[r] - m2[r]) / (4 * h);
        matrix[r * n + col] = d1;
        err = Math.max(err, Math.abs(d1 - d2) / 3);
        scale = Math.max(scale, Math.abs(d1));
      }
    }
    return { matrix, m, n, relativeError: scale > 0 ? err / scale : 0 };
  } finally {
    await runner.dispose();
  }
}

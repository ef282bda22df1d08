import type { NdArray } from '../../../src/core/ndarray';
import type { TensorRunner } from '../../../src/core/ports';
import { buildJvpModel, buildVjpModel } from '../../../src/core/autodiff/derivative';
import { DerivativeRunner, ForwardPass } from '../../../src/core/autodiff/probe';
import { Rng } from '../../../src/core/inputs/rng';
import { DataType, type Attribute, type Graph, type Model, type Tensor } from '../../../src/core/onnx/types';
import { validateGraph } from '../../../src/core/onnx/validate';
import { createOrtRunner } from '../../../src/runtime/ort';

/** One input of a single-node test model: differentiated (a graph input) or a constant initializer. */
export interface CaseInput {
  name: string;
  dims: number[];
  /** 'x': differentiated; 'const': an initializer with the given values (or random) of the case's type; 'int64', 'bool', 'float64', 'float32': constants of that type. */
  kind?: 'x' | 'const' | 'int64' | 'bool' | 'float64' | 'float32';
  values?: number[];
  /** Draw positive values (for Log, Sqrt, Div denominators). */
  positive?: boolean;
}

/** A single-node model to check a derivative rule on. */
export interface RuleCase {
  title: string;
  op: string;
  inputs: CaseInput[];
  attrs?: Attribute[];
  outputs?: number;
  opset?: number;
  /** Check J v only (the reverse rule does not cover every input of this case). */
  jvpOnly?: boolean;
  /** Element type; default float64 (falls back to float32 where onnxruntime has no double kernel). */
  dtype?: 'float64' | 'float32';
}

const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

function randomValues(rng: Rng, n: number, positive?: boolean): number[] {
  return Array.from({ length: n }, () => (positive ? 0.5 + rng.uniform() : rng.normal()));
}

function tensorOf(name: string, dims: number[], values: number[], type: 'float64' | 'float32' | 'int64' | 'bool'): Tensor {
  const data =
    type === 'float64' ? Float64Array.from(values)
    : type === 'float32' ? Float32Array.from(values)
    : type === 'int64' ? BigInt64Array.from(values.map((v) => BigInt(Math.round(v))))
    : Uint8Array.from(values.map((v) => (v ? 1 : 0)));
  const dataType = { float64: DataType.DOUBLE, float32: DataType.FLOAT, int64: DataType.INT64, bool: DataType.BOOL }[type];
  return { name, dataType, dims, raw: new Uint8Array(data.buffer) };
}

/** Builds the model and the sample for a case. */
export function buildCase(c: RuleCase, dtype: 'float64' | 'float32', seed = 1): { model: Model; sample: Record<string, NdArray>; sources: string[]; targets: string[] } {
  const rng = new Rng(seed);
  const elem = dtype === 'float64' ? DataType.DOUBLE : DataType.FLOAT;
  const initializers = new Map<string, Tensor>();
  const sample: Record<string, NdArray> = {};
  const sources: string[] = [];
  for (const i of c.inputs) {
    if (!i.name) continue;
    const kind = i.kind ?? 'x';
    const values = i.values ?? randomValues(rng, size(i.dims), i.positive);
    if (kind === 'x') {
      sources.push(i.name);
      sample[i.name] = { dtype, dims: i.dims, data: dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values) } as NdArray;
    } else {
      initializers.set(i.name, tensorOf(i.name, i.dims, values, kind === 'const' ? dtype : kind));
    }
  }
  const targets = Array.from({ length: c.outputs ?? 1 }, (_, k) => `y${k}`);
  const model: Model = {
    irVersion: 8, opsetImports: [{ domain: '', version: c.opset ?? 17 }], producerName: 'test', producerVersion: '', domain: '', modelVersion: 0, docString: '', metadata: {}, passthrough: {},
    graph: {
      name: 'case', initializers, valueInfo: [], metadata: {}, passthrough: {},
      nodes: [{ name: 'n', opType: c.op, domain: '', inputs: c.inputs.map((i) => i.name), outputs: targets, attributes: c.attrs ?? [], metadata: {} }],
      inputs: sources.map((s) => ({ name: s, type: { kind: 'tensor', elemType: elem, shape: sample[s].dims } })),
      outputs: targets.map((t) => ({ name: t })),
    },
  };
  return { model, sample, sources, targets };
}

/** The result of checking one rule at one random point. */
export interface GradCheck {
  dtype: 'float64' | 'float32';
  /** max over probe vectors of |J v - FD| / (|FD| + tiny), over all targets. */
  jvpError: number;
  /** |<u, J v> - <J^T u, v>| / (|<u, J v>| + tiny). */
  adjointError: number;
}

const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i], 0);
const norm = (a: Float64Array) => Math.sqrt(dot(a, a));

/**
 * Checks a rule: J v against central finite differences (DOMAIN.md section 4: step about the cube
 * root of machine epsilon times the scale of x), and the adjoint identity <u, J v> = <J^T u, v>.
 */
export async function gradCheck(c: RuleCase, seed = 1): Promise<GradCheck> {
  let dtype = c.dtype ?? 'float64';
  let built = buildCase(c, dtype, seed);
  let forward: ForwardPass;
  try {
    forward = await ForwardPass.run(built.model, built.sample, createOrtRunner, 'cpu');
  } catch (e) {
    if (dtype === 'float32') throw e;
    dtype = 'float32';
    built = buildCase(c, dtype, seed);
    forward = await ForwardPass.run(built.model, built.sample, createOrtRunner, 'cpu');
  }
  const { model, sample, sources, targets } = built;
  const order = model.graph.nodes.map((_, i) => i);
  const runner = new DerivativeRunner(forward, order, c.opset ?? 17, createOrtRunner, 'cpu');
  const rng = new Rng(seed + 100);
  // K = 7 probe vectors per run: no test shape has an axis of 7, so a K axis broadcast against a
  // primal axis by mistake fails loudly instead of matching by coincidence.
  const K = 7;
  const v = sources.map((s) => Array.from({ length: K }, () => Float64Array.from(randomValues(rng, size(sample[s].dims)))));
  const span = { sources, targets };
  const jv = await runner.jvp(span, v);
  // finite differences, one pair of forward runs per probe vector
  const f = await createOrtRunner(model, { executionProvider: 'cpu' });
  const jvpError = await centralDifferenceError(f, sample, sources, targets, v, jv, 3, dtype, 1e-12);
  if (c.jvpOnly) {
    await runner.dispose();
    await f.dispose();
    return { dtype, jvpError, adjointError: 0 };
  }
  const u = targets.map((t) => Array.from({ length: K }, () => Float64Array.from(randomValues(rng, size(forward.shape(t) ?? [])))));
  const jtu = await runner.vjp(span, u);
  const lhs = targets.reduce((s, _, ti) => s + dot(u[ti][K - 1], jv[ti][K - 1]), 0);
  const rhs = sources.reduce((s, _, si) => s + dot(jtu[si][K - 1], v[si][K - 1]), 0);
  await runner.dispose();
  await f.dispose();
  return { dtype, jvpError, adjointError: Math.abs(lhs - rhs) / (Math.abs(lhs) + 1e-12) };
}

/** The result of checking the forward rules of a rule's own reverse graph. */
export interface SecondOrderCheck {
  dtype: 'float64' | 'float32';
  /** max over probe vectors of |d(J^T u)[v] - FD| / (|FD| + tiny), over all sources. */
  error: number;
  /** Op types in the reverse graph (and the forward-over-reverse graph) built for the case. */
  emitted: string[];
}

/**
 * Forward-over-reverse: the case's reverse graph J(x)^T u with a fixed u, as a model of x, is
 * differentiated again in forward mode (as the exact Hessian-vector products do) and checked
 * against central differences of that model. Fails when an op the reverse rule emits has no
 * forward rule, or a wrong one.
 */
export async function secondOrderCheck(c: RuleCase, seed = 1): Promise<SecondOrderCheck> {
  const attempt = async (dtype: 'float64' | 'float32'): Promise<SecondOrderCheck> => {
    const { model, sample, sources, targets } = buildCase(c, dtype, seed);
    const forward = await ForwardPass.run(model, sample, createOrtRunner, 'cpu');
    const order = model.graph.nodes.map((_, i) => i);
    const dm = buildVjpModel(model, order, forward, { sources, targets }, c.opset ?? 17);
    const rng = new Rng(seed + 200);
    const initializers = new Map([...model.graph.initializers, ...dm.model.graph.initializers]);
    dm.derivativeInputs.forEach((name, i) => {
      const dims = [1, ...(forward.shape(targets[i]) ?? [])];
      initializers.set(name, tensorOf(name, dims, randomValues(rng, size(dims)), dtype));
    });
    const graph: Graph = {
      ...model.graph,
      nodes: [...model.graph.nodes, ...dm.model.graph.nodes],
      initializers,
      outputs: dm.derivativeOutputs.map((name) => ({ name })),
    };
    const combined: Model = { ...model, opsetImports: [{ domain: '', version: 17 }], graph };
    const combinedOrder = validateGraph(graph);
    const second = await ForwardPass.run(combined, sample, createOrtRunner, 'cpu');
    const runner = new DerivativeRunner(second, combinedOrder, 17, createOrtRunner, 'cpu');
    const span = { sources, targets: dm.derivativeOutputs };
    const K = 7;
    const v = sources.map((s) => Array.from({ length: K }, () => Float64Array.from(randomValues(rng, size(sample[s].dims)))));
    const jv = await runner.jvp(span, v);
    const jvpModel = buildJvpModel(combined, combinedOrder, second, span, 17);
    const f = await createOrtRunner(combined, { executionProvider: 'cpu' });
    const error = await centralDifferenceError(f, sample, sources, span.targets, v, jv, 2, dtype, 1e-9);
    await runner.dispose();
    await f.dispose();
    const emitted = [...new Set([...dm.model.graph.nodes, ...jvpModel.model.graph.nodes].map((n) => n.opType))].sort();
    return { dtype, error, emitted };
  };
  if (c.dtype === 'float32') return attempt('float32');
  try {
    return await attempt('float64');
  } catch (e) {
    if (e instanceof Error && /derivative/.test(e.message)) throw e;
    return attempt('float32');
  }
}

/**
 * The largest relative error, over the first `probes` vectors and every target, of J v against
 * central differences of the model run by `f` (steps 6e-6 in float64, 5e-3 in float32).
 */
async function centralDifferenceError(
  f: TensorRunner,
  sample: Record<string, NdArray>,
  sources: string[],
  targets: string[],
  v: Float64Array[][],
  jv: Float64Array[][],
  probes: number,
  dtype: 'float64' | 'float32',
  tiny: number,
): Promise<number> {
  const h = dtype === 'float64' ? 6e-6 : 5e-3;
  let error = 0;
  for (let k = 0; k < probes; k++) {
    const shifted = async (sign: number) => {
      const feeds: Record<string, NdArray> = {};
      sources.forEach((s, i) => {
        const base = sample[s].data as Float64Array | Float32Array;
        const data = dtype === 'float64' ? new Float64Array(base.length) : new Float32Array(base.length);
        for (let j = 0; j < base.length; j++) data[j] = base[j] + sign * h * v[i][k][j];
        feeds[s] = { dtype, dims: sample[s].dims, data } as NdArray;
      });
      return f.run(feeds, targets);
    };
    const plus = await shifted(1);
    const minus = await shifted(-1);
    targets.forEach((t, ti) => {
      const fd = Float64Array.from(plus[t].data as Float64Array, (p, j) => (p - Number(minus[t].data[j])) / (2 * h));
      const diff = Float64Array.from(fd, (x, j) => x - jv[ti][k][j]);
      error = Math.max(error, norm(diff) / (norm(fd) + tiny));
    });
  }
  return error;
}

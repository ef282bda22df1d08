import { DoctorError } from '../errors';
import { Rng } from '../inputs/rng';
import { tensorToFloat64 } from '../onnx/tensorData';
import { DataType, type Attribute, type Model, type Node, type Tensor } from '../onnx/types';
import type { Finding, Remedy } from '../report/types';
import { findMember } from './group';

/** Activations a what-if may swap in: elementwise ops with no extra inputs, in every opset we emit. */
const SWAPPABLE: Record<string, Attribute[]> = {
  Relu: [],
  LeakyRelu: [{ name: 'alpha', type: 'float', value: 0.01 }],
  Tanh: [],
  Sigmoid: [],
  Elu: [{ name: 'alpha', type: 'float', value: 1 }],
  Selu: [],
  Softplus: [],
};

/**
 * Applies remedies to a copy of the model: rescaled or re-initialised weights, swapped
 * activations, scaled residual branches. The input model is not changed (its tensors are views
 * into the user's file and stay untouched); one remedy per parameter or node, the first wins.
 * Refuses, with the reason, a remedy that names something the model does not have.
 */
export function applyRemedies(model: Model, remedies: Remedy[], seed = 0): { model: Model; applied: Remedy[] } {
  const initializers = new Map(model.graph.initializers);
  const nodes = [...model.graph.nodes];
  const applied: Remedy[] = [];
  const touched = new Set<string>();
  const rng = new Rng(seed ^ 0x5eed);
  for (const r of remedies) {
    const key = 'parameter' in r ? r.parameter : r.node;
    if (touched.has(key)) continue;
    touched.add(key);
    switch (r.kind) {
      case 'rescale':
      case 'reinit': {
        const t = initializers.get(r.parameter);
        if (!t) throw new DoctorError('bad-input', `the model has no initializer '${r.parameter}' to ${r.kind}`);
        const values = r.kind === 'rescale' ? tensorToFloat64(t).map((x) => x * r.factor) : reinit(t, r, rng);
        initializers.set(r.parameter, withValues(t, values));
        break;
      }
      case 'swap-activation': {
        const i = nodes.findIndex((n) => n.name === r.node);
        if (i < 0) throw new DoctorError('bad-input', `the model has no node '${r.node}' to swap`);
        if (nodes[i].opType !== r.from) throw new DoctorError('bad-input', `node '${r.node}' is ${nodes[i].opType}, not ${r.from}`);
        const attrs = SWAPPABLE[r.to];
        if (!attrs) throw new DoctorError('bad-input', `cannot swap in ${r.to}; one of ${Object.keys(SWAPPABLE).join(', ')}`);
        nodes[i] = { ...nodes[i], opType: r.to, attributes: attrs };
        break;
      }
      case 'residual-scale': {
        const i = nodes.findIndex((n) => n.name === r.node);
        const join = nodes[i];
        if (!join || (join.opType !== 'Add' && join.opType !== 'Sum') || !join.inputs[r.input]) {
          throw new DoctorError('bad-input', `node '${r.node}' is not an Add with input ${r.input} to scale`);
        }
        const branch = join.inputs[r.input];
        const scale = `${branch}__whatif_scale`;
        const scaled = `${branch}__whatif_scaled`;
        initializers.set(scale, withValues({ name: scale, dataType: DataType.FLOAT, dims: [] }, Float64Array.of(r.factor)));
        const mul: Node = { name: `${join.name}__whatif_mul`, opType: 'Mul', domain: '', inputs: [branch, scale], outputs: [scaled], attributes: [], metadata: {} };
        nodes.splice(i, 1, mul, { ...join, inputs: join.inputs.map((x, k) => (k === r.input ? scaled : x)) });
        break;
      }
    }
    applied.push(r);
  }
  return { model: { ...model, graph: { ...model.graph, nodes, initializers } }, applied };
}

/**
 * The remedies of the chosen findings (all findings that have any when `ids` is empty): by id (a
 * grouped finding's are its members' union), by a member's id (that layer's alone), or by rule.
 */
export function remediesOf(findings: Finding[], ids: string[] = []): Remedy[] {
  if (!ids.length) return findings.flatMap((f) => f.remedies ?? []);
  return ids.flatMap((id) => {
    const byRule = findings.filter((x) => x.rule === id);
    if (byRule.length) return byRule.flatMap((f) => f.remedies ?? []);
    const hit = findMember(findings, id);
    if (!hit) throw new DoctorError('bad-input', `no finding '${id}' in the report; ids: ${findings.map((x) => x.id).join(', ') || '(none)'}`);
    return (hit.member ?? hit.finding).remedies ?? [];
  });
}

function reinit(t: Tensor, r: Extract<Remedy, { kind: 'reinit' }>, rng: Rng): Float64Array {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (r.scheme !== 'orthogonal') return Float64Array.from({ length: n }, () => rng.normal() * r.std);
  const rows = t.dims[0];
  const cols = n / rows;
  return orthogonal(rows, cols, rng).map((x) => x * (r.gain ?? 1));
}

/** A rows x cols matrix with orthonormal rows or columns (whichever is fewer), by Gram-Schmidt on a Gaussian. */
export function orthogonal(rows: number, cols: number, rng: Rng): Float64Array {
  const k = Math.min(rows, cols);
  const len = Math.max(rows, cols);
  if (k * len > 16_000_000) throw new DoctorError('unsupported', `an orthogonal ${rows}x${cols} init is too large for a what-if`);
  const basis: Float64Array[] = [];
  while (basis.length < k) {
    const v = Float64Array.from({ length: len }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (const b of basis) {
        let d = 0;
        for (let i = 0; i < len; i++) d += b[i] * v[i];
        for (let i = 0; i < len; i++) v[i] -= d * b[i];
      }
    }
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    if (norm < 1e-8) continue;
    basis.push(v.map((x) => x / norm));
  }
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[i * cols + j] = rows <= cols ? basis[i][j] : basis[j][i];
  }
  return out;
}

/** A copy of tensor `t` holding `values` in its own element type (float32 or float64). */
function withValues(t: Tensor, values: Float64Array): Tensor {
  if (t.dataType === DataType.DOUBLE) return { name: t.name, dataType: t.dataType, dims: t.dims, raw: new Uint8Array(Float64Array.from(values).buffer) };
  if (t.dataType === DataType.FLOAT) return { name: t.name, dataType: t.dataType, dims: t.dims, raw: new Uint8Array(Float32Array.from(values).buffer) };
  throw new DoctorError('unsupported', `what-if changes float32 and float64 weights; '${t.name}' is another type`);
}

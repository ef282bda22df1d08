import { tensorToFloat64 } from '../onnx/tensorData';
import { DataType, getAttribute, type Model, type Node, type Tensor } from '../onnx/types';
import { spectralRadius } from '../linalg/spectralRadius';
import { singularValues, singularValuesFromGram } from '../linalg/svd';
import type { ParameterReport } from '../report/types';
import { jsGram, type GramFunction } from './jacobian';
import type { Layer } from './layers';

/** Weight matrices up to this many rows and columns get an exact SVD in JS. */
const WEIGHT_SVD_MAX_DIM = 2048;

const FLOATS = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

/** The node that reads `param` as its weight (input 1 of Conv/Gemm/MatMul, or 0 for a transposed MatMul), if any. */
function weightUse(model: Model, param: string): { node: Node; index: number } | undefined {
  for (const node of model.graph.nodes) {
    if (node.opType === 'Identity' && node.inputs[0] === param && node.outputs[0]) {
      const through = weightUse(model, node.outputs[0]);
      if (through) return through;
    }
    const index = node.inputs.indexOf(param);
    if (index >= 0 && ['Conv', 'ConvTranspose', 'Gemm', 'MatMul'].includes(node.opType) && index <= 1) return { node, index };
  }
  return undefined;
}

/** Fan-in and fan-out of a weight as its op uses it (DOMAIN.md section 5; Conv: in_channels / groups * kernel size). */
function fans(node: Node, index: number, dims: number[]): { fanIn: number; fanOut: number } | undefined {
  if (node.opType === 'Conv' && dims.length >= 3) {
    const k = dims.slice(2).reduce((a, b) => a * b, 1);
    const group = getAttribute(node, 'group');
    const g = group?.type === 'int' ? group.value : 1;
    return { fanIn: dims[1] * k, fanOut: (dims[0] / g) * k };
  }
  if (node.opType === 'ConvTranspose' && dims.length >= 3) {
    const k = dims.slice(2).reduce((a, b) => a * b, 1);
    return { fanIn: dims[0] * k, fanOut: dims[1] * k };
  }
  if (dims.length !== 2) return undefined;
  if (node.opType === 'Gemm') {
    const tb = getAttribute(node, 'transB');
    const transposed = index === 1 ? tb?.type === 'int' && tb.value === 1 : false;
    return transposed ? { fanIn: dims[1], fanOut: dims[0] } : { fanIn: dims[0], fanOut: dims[1] };
  }
  return index === 1 ? { fanIn: dims[0], fanOut: dims[1] } : { fanIn: dims[1], fanOut: dims[0] };
}

function moments(w: Float64Array): { mean: number; variance: number; kurtosis: number | null; norm: number } {
  const n = w.length;
  let s = 0;
  let sq = 0;
  for (const x of w) {
    s += x;
    sq += x * x;
  }
  const mean = s / n;
  let m2 = 0;
  let m4 = 0;
  for (const x of w) {
    const d = x - mean;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m4 /= n;
  return { mean, variance: m2, kurtosis: n >= 4 && m2 > 0 ? m4 / (m2 * m2) - 3 : null, norm: Math.sqrt(sq) };
}

/**
 * Weight-only figures of every float parameter (DOMAIN.md section 5): norm, variance against the
 * He (2 / fan_in), Xavier (2 / (fan_in + fan_out)) and LeCun (1 / fan_in) variances, excess
 * kurtosis, and for matrices the exact spectral norm and condition number. Conv operator norms
 * are filled in by the caller (they need the input size). `gram` makes the Gram matrices of the
 * dense SVDs (onnxruntime's float64 MatMul in the analysis).
 */
export async function weightFigures(model: Model, layers: Layer[], gram: GramFunction = jsGram): Promise<ParameterReport[]> {
  const owner = new Map<string, string>();
  for (const l of layers) for (const p of l.parameters) if (!owner.has(p)) owner.set(p, l.name);
  const out: ParameterReport[] = [];
  for (const [name, tensor] of model.graph.initializers) {
    if (!FLOATS.has(tensor.dataType) || tensor.dims.length === 0) continue;
    if (!owner.has(name) && !usedByDifferentiable(model, name)) continue;
    out.push(await figuresOf(model, name, tensor, owner.get(name), gram));
  }
  // Exporters deduplicate equal initializers and re-create the copies as Identity nodes
  // (layers.1.bias = Identity(layers.0.bias)): report each alias under its own name too.
  for (const node of model.graph.nodes) {
    const source = node.opType === 'Identity' ? model.graph.initializers.get(node.inputs[0]) : undefined;
    const alias = node.outputs[0];
    if (!source || !alias || !FLOATS.has(source.dataType) || source.dims.length === 0) continue;
    out.push({ ...(await figuresOf(model, alias, source, owner.get(alias), gram)), aliasOf: source.name });
    const shared = out.find((p) => p.name === source.name);
    if (shared) shared.sharedWith = [...(shared.sharedWith ?? []), alias];
  }
  return out;
}

function usedByDifferentiable(model: Model, name: string): boolean {
  return model.graph.nodes.some((n) => n.inputs.includes(name) && !['Reshape', 'Shape', 'Expand', 'ConstantOfShape', 'Slice'].includes(n.opType));
}

async function figuresOf(model: Model, name: string, tensor: Tensor, layer: string | undefined, gram: GramFunction): Promise<ParameterReport> {
  const w = tensorToFloat64(tensor);
  if (!w.every(Number.isFinite)) {
    return { name, shape: tensor.dims, layer, norm: null, gradNorm: null, gradToWeightRatio: null, spectralNorm: null, variance: null, kurtosis: null, reason: 'the weight holds NaN or Inf' };
  }
  const { variance, kurtosis, norm } = moments(w);
  const report: ParameterReport = {
    name, shape: tensor.dims, layer, norm, gradNorm: null, gradToWeightRatio: null, spectralNorm: null, variance, kurtosis,
  };
  const use = weightUse(model, name);
  const f = use ? fans(use.node, use.index, tensor.dims) : undefined;
  if (f) {
    report.fanIn = f.fanIn;
    report.fanOut = f.fanOut;
    report.varianceRatio = { he: variance / (2 / f.fanIn), xavier: variance / (2 / (f.fanIn + f.fanOut)), lecun: variance / (1 / f.fanIn) };
  }
  const recurrent = model.graph.nodes.find((n) => ['LSTM', 'GRU', 'RNN'].includes(n.opType) && n.inputs[2] === name);
  if (recurrent && tensor.dims.length === 3) {
    const names = recurrent.opType === 'LSTM' ? ['input', 'output', 'forget', 'cell'] : recurrent.opType === 'GRU' ? ['update', 'reset', 'hidden'] : ['hidden'];
    const h = tensor.dims[2];
    report.recurrentGates = names.map((gate, g) => {
      const block = w.subarray(g * h * h, (g + 1) * h * h);
      return { gate, spectralRadius: spectralRadius(block, h), spectralNorm: singularValues(Float64Array.from(block), h, h)[0] };
    });
  }
  if (tensor.dims.length === 2 && use && use.node.opType !== 'Conv') {
    const [r, c] = tensor.dims;
    if (Math.min(r, c) <= WEIGHT_SVD_MAX_DIM) {
      const sv = singularValuesFromGram(await gram(w, r, c), Math.min(r, c));
      report.spectralNorm = sv[0];
      report.conditionNumber = sv[sv.length - 1] > 0 ? sv[0] / sv[sv.length - 1] : null;
      report.spectralNormMethod = 'exact (dense SVD of the weight matrix)';
    } else report.reason = `weight matrix ${r}x${c} is above the ${WEIGHT_SVD_MAX_DIM} limit for an exact SVD`;
  }
  return report;
}

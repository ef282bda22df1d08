import { DoctorError } from '../errors';
import { tensorToFloat64 } from '../onnx/tensorData';
import { bytesPerElement, getAttribute, type Model, type Node, type Tensor } from '../onnx/types';

/** The memory budget when none is set: what a laptop can give an analysis beside an editor and a browser. */
export const DEFAULT_MEMORY_BUDGET_MB = 4096;

/** One part of the estimate, for the message and the report. */
export interface MemoryPart {
  what: string;
  bytes: number;
}

/** What the analysis will hold at its peak, estimated before any work from the model and the input sizes. */
export interface MemoryEstimate {
  bytes: number;
  weightBytes: number;
  /** One sample's activations: every intermediate tensor of the forward pass (elements times their type's size). */
  activationBytes: number;
  parts: MemoryPart[];
}

/** What the analysis does within the budget: the limits it runs with and what it gave up. */
export interface MemoryPlan {
  budgetMB: number;
  estimateMB: number;
  /** Probe vectors times vector length per onnxruntime run. */
  probeBatchElements: number;
  /** Entries of the largest Jacobian assembled for exact figures (above it, Lanczos). */
  exactMaxEntries: number;
  /** False when the curvature's exact Hessian-vector graph (every intermediate of forward, loss and reverse) does not fit. */
  curvature: boolean;
  /** What was lowered to fit, in words (empty when the defaults fit). */
  lowered: string[];
}

/** The defaults the plan starts from (jacobian.ts's MAX_BATCH_ELEMENTS and EXACT_MAX_ENTRIES). */
export interface ProbeLimits {
  probeBatchElements: number;
  exactMaxEntries: number;
}

/** Node, V8 and onnxruntime's own libraries and arenas before a model is loaded (measured: about 150 MiB). */
const RUNTIME_BYTES = 160 * 2 ** 20;
/**
 * Copies of the weights held at once: the decoded model, the forward session, the derivative
 * sessions (each holds its layer's), float64 figures (measured on resnet18 and resnet50 before
 * the curvature: about 5).
 */
const WEIGHT_COPIES = 6;
/** One sample's activations held at once: the forward pass's fetched values (onnxruntime's and ours) and the run that makes them. */
const FORWARD_COPIES = 3;
/**
 * The curvature: its exact Hessian-vector graph holds the weights, their tangents and the
 * intermediates its derivative models read, and its Lanczos iteration three float32 vectors of
 * every parameter (measured on resnet18 and resnet50: 4.7 and 5.6 weight copies over the layer
 * probes' peak; 8 with a margin).
 */
const CURVATURE_ACTIVATION_COPIES = 4;
const CURVATURE_WEIGHT_COPIES = 8;
/** Float64 and float32 copies of a probe batch in flight (feeds, outputs, rows) per element. */
const BYTES_PER_PROBE_ELEMENT = 8 * 4;
const MB = 2 ** 20;

/**
 * Estimates the analysis's peak memory from the model and its inputs' sizes alone (before any
 * session is made): the runtime, copies of the weights, copies of one sample's activations (found
 * by propagating shapes through the graph), the probes' working set and the curvature's graph.
 * Calibrated against the peaks the benchmark measures (README "Performance").
 */
export function estimateMemory(model: Model, inputDims: Map<string, number[]>, limits: ProbeLimits, curvature: boolean): MemoryEstimate {
  let weightBytes = 0;
  for (const t of model.graph.initializers.values()) weightBytes += elements(t.dims) * (bytesPerElement(t.dataType) ?? 4);
  const activationBytes = activationElements(model, inputDims) * 4;
  const probes = limits.probeBatchElements * BYTES_PER_PROBE_ELEMENT + limits.exactMaxEntries * 8 * 2;
  const parts: MemoryPart[] = [
    { what: 'runtime', bytes: RUNTIME_BYTES },
    { what: `weights (${fmtMB(weightBytes)} × ${WEIGHT_COPIES})`, bytes: weightBytes * WEIGHT_COPIES },
    { what: `one sample's activations (${fmtMB(activationBytes)} × ${FORWARD_COPIES})`, bytes: activationBytes * FORWARD_COPIES },
    { what: 'probe batches and assembled Jacobians', bytes: probes },
  ];
  if (curvature) parts.push({ what: `the curvature (activations × ${CURVATURE_ACTIVATION_COPIES}, weights × ${CURVATURE_WEIGHT_COPIES})`, bytes: activationBytes * CURVATURE_ACTIVATION_COPIES + weightBytes * CURVATURE_WEIGHT_COPIES });
  return { bytes: parts.reduce((s, p) => s + p.bytes, 0), weightBytes, activationBytes, parts };
}

/**
 * Fits the analysis to the budget: when the estimate exceeds it, first smaller probe batches and
 * a smaller exact-path size (slower, and more layers get Lanczos bounds instead of exact figures),
 * then no curvature; when even that does not fit, refuses with the estimate and the option that
 * raises the budget, before any session is made.
 */
export function planForBudget(model: Model, inputDims: Map<string, number[]>, budgetMB: number, defaults: ProbeLimits, curvature: boolean, file?: string): MemoryPlan {
  const budget = budgetMB * MB;
  let limits = { ...defaults };
  let withCurvature = curvature;
  const lowered: string[] = [];
  let estimate = estimateMemory(model, inputDims, limits, withCurvature);
  if (estimate.bytes > budget) {
    limits = { probeBatchElements: Math.min(defaults.probeBatchElements, 500_000), exactMaxEntries: Math.min(defaults.exactMaxEntries, 2 * 1024 * 1024) };
    lowered.push(`probe batches of at most ${limits.probeBatchElements.toLocaleString('en-US')} elements and assembled Jacobians of at most ${limits.exactMaxEntries.toLocaleString('en-US')} entries (larger layers get Lanczos figures)`);
    estimate = estimateMemory(model, inputDims, limits, withCurvature);
  }
  if (estimate.bytes > budget && withCurvature) {
    withCurvature = false;
    lowered.push('no curvature (its Hessian-vector graph holds the activations several times over)');
    estimate = estimateMemory(model, inputDims, limits, withCurvature);
  }
  if (estimate.bytes > budget) {
    const largest = [...estimate.parts].sort((a, b) => b.bytes - a.bytes)[0];
    const need = Math.ceil(estimate.bytes / MB / 256) * 256;
    throw new DoctorError('bad-input',
      `the analysis needs about ${fmtMB(estimate.bytes)} even with ${lowered.length ? lowered.join(' and ') : 'its defaults'}, more than the memory budget of ${fmtMB(budget)}; `
      + `most of it is ${largest.what} = ${fmtMB(largest.bytes)}. Raise the budget (--memory-budget ${need}, or the setting gradientDoctor.memoryBudgetMB) `
      + 'if this machine has the memory, or analyse smaller inputs (a smaller batch or sequence: --dim NAME=SIZE)', file);
  }
  return { budgetMB, estimateMB: Math.round(estimate.bytes / MB), probeBatchElements: limits.probeBatchElements, exactMaxEntries: limits.exactMaxEntries, curvature: withCurvature, lowered };
}

function fmtMB(bytes: number): string {
  const mb = bytes / MB;
  return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${Math.max(1, Math.round(mb))} MB`;
}

function elements(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * Math.max(b, 0), 1);
}

/**
 * Elements of every intermediate tensor of one forward pass at these input sizes, by propagating
 * shapes through the graph in order: the common operators by their rule, any other by the
 * exporter's value_info when it is static, else as large as its largest input (most operators
 * keep or shrink their input; this errs large for the ones that shrink).
 */
export function activationElements(model: Model, inputDims: Map<string, number[]>): number {
  let total = 0;
  propagateShapes(model, inputDims, (_node, out) => (total += elements(out)));
  return total;
}

/**
 * The shape of every node output at these input sizes (see {@link activationElements} for how),
 * calling `visit` with each node and its output's shape in graph order.
 */
export function propagateShapes(model: Model, inputDims: Map<string, number[]>, visit?: (node: Node, out: number[], ins: Array<number[] | undefined>) => void): Map<string, number[]> {
  const g = model.graph;
  const shapes = new Map<string, number[]>(inputDims);
  for (const [name, t] of g.initializers) shapes.set(name, t.dims);
  const declared = new Map<string, number[]>();
  for (const v of [...g.valueInfo, ...g.outputs]) {
    const dims = v.type?.kind === 'tensor' ? v.type.shape : undefined;
    if (dims && dims.every((d) => typeof d === 'number')) declared.set(v.name, dims as number[]);
  }
  // shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat -> Reshape's second input) is a few integers
  const small = new Set<string>();
  for (const [name, t] of g.initializers) if (elements(t.dims) <= SMALL) small.add(name);
  for (const node of g.nodes) {
    const ins = node.inputs.map((i) => (i ? shapes.get(i) : undefined));
    const tiny = node.opType === 'Shape' || node.opType === 'Size' || (node.inputs.length > 0 && node.inputs.every((i) => !i || small.has(i)));
    const rule = tiny ? undefined : outputShape(node, ins, (name) => g.initializers.get(name));
    const valid = (d: number[] | undefined) => d !== undefined && d.every((x) => Number.isFinite(x) && x >= 0);
    const out = tiny ? [SMALL] : valid(rule) ? (rule as number[]) : declared.get(node.outputs[0]) ?? largest(ins);
    for (const o of node.outputs) {
      if (!o) continue;
      shapes.set(o, out);
      if (tiny || (node.opType === 'Constant' && elements(out) <= SMALL)) small.add(o);
    }
    visit?.(node, out, ins);
  }
  return shapes;
}

/** Tensors of at most this many elements are shape arithmetic, not activations. */
const SMALL = 16;

function largest(shapes: Array<number[] | undefined>): number[] {
  let best: number[] = [1];
  for (const s of shapes) if (s && elements(s) > elements(best)) best = s;
  return best;
}

function broadcast(shapes: Array<number[] | undefined>): number[] | undefined {
  if (shapes.some((s) => !s)) return undefined;
  const rank = Math.max(...shapes.map((s) => (s as number[]).length));
  return Array.from({ length: rank }, (_, i) => Math.max(...shapes.map((s) => (s as number[])[(s as number[]).length - rank + i] ?? 1)));
}

const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Where', 'Max', 'Min', 'Sum', 'Mean', 'Equal', 'Less', 'Greater', 'And', 'Or', 'PRelu', 'BitShift']);
const SAME_SHAPE = new Set(['Relu', 'Sigmoid', 'Tanh', 'LeakyRelu', 'Elu', 'Selu', 'Gelu', 'Softplus', 'Softsign', 'HardSigmoid', 'HardSwish', 'Mish', 'Exp', 'Log', 'Sqrt', 'Abs', 'Neg', 'Reciprocal', 'Erf', 'Sin', 'Cos',
  'Clip', 'Cast', 'CastLike', 'Identity', 'Dropout', 'Softmax', 'LogSoftmax', 'BatchNormalization', 'LayerNormalization', 'InstanceNormalization', 'GroupNormalization', 'Not', 'Floor', 'Ceil', 'Round', 'Sign', 'CumSum', 'LRN']);

/** The output shape of the common operators (undefined when this rule set does not know it). */
function outputShape(node: Node, ins: Array<number[] | undefined>, initializer: (name: string) => Tensor | undefined): number[] | undefined {
  const x = ins[0];
  const ints = (name: string) => {
    const a = getAttribute(node, name);
    return a?.type === 'ints' ? a.value : undefined;
  };
  const int = (name: string, dflt: number) => {
    const a = getAttribute(node, name);
    return a?.type === 'int' ? a.value : dflt;
  };
  if (node.opType === 'Constant') {
    const v = getAttribute(node, 'value');
    return v?.type === 'tensor' ? v.value.dims : [SMALL];
  }
  if (SAME_SHAPE.has(node.opType)) return x;
  if (ELEMENTWISE.has(node.opType)) return broadcast(ins);
  if (!x) return undefined;
  switch (node.opType) {
    case 'MatMul': {
      const w = ins[1];
      if (!w) return undefined;
      if (w.length === 1) return x.slice(0, -1);
      const batch = broadcast([x.slice(0, -2), w.slice(0, -2)]) ?? [];
      return [...batch, x.length >= 2 ? x[x.length - 2] : 1, w[w.length - 1]];
    }
    case 'Gemm': {
      const w = ins[1];
      if (!w || x.length !== 2) return undefined;
      return [int('transA', 0) ? x[1] : x[0], int('transB', 0) ? w[0] : w[1]];
    }
    case 'Conv':
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      const w = ins[1];
      const kernel = node.opType === 'Conv' ? w?.slice(2) : ints('kernel_shape');
      if (!kernel || x.length < 3) return undefined;
      const spatial = x.slice(2);
      const strides = ints('strides') ?? spatial.map(() => 1);
      const dil = ints('dilations') ?? spatial.map(() => 1);
      const pads = ints('pads') ?? spatial.flatMap(() => [0, 0]);
      const autoPad = getAttribute(node, 'auto_pad');
      const same = autoPad?.type === 'string' && autoPad.value.startsWith('SAME');
      const out = spatial.map((n, i) => (same ? Math.ceil(n / strides[i]) : Math.floor((n + pads[i] + pads[i + spatial.length] - dil[i] * (kernel[i] - 1) - 1) / strides[i]) + 1));
      return [x[0], node.opType === 'Conv' && w ? w[0] : x[1], ...out];
    }
    case 'LSTM':
    case 'GRU':
    case 'RNN': {
      const dirs = getAttribute(node, 'direction');
      return [x[0], dirs?.type === 'string' && dirs.value === 'bidirectional' ? 2 : 1, x[1], int('hidden_size', x[2])];
    }
    case 'Gather': {
      const idx = ins[1];
      if (!idx) return undefined;
      const axis = int('axis', 0);
      const a = axis < 0 ? axis + x.length : axis;
      return [...x.slice(0, a), ...idx, ...x.slice(a + 1)];
    }
    case 'Squeeze':
    case 'Unsqueeze': {
      const t = node.inputs[1] ? initializer(node.inputs[1]) : undefined;
      const axes = ints('axes') ?? (t ? Array.from(tensorToFloat64(t)) : undefined);
      if (!axes) return node.opType === 'Squeeze' ? x.filter((d) => d !== 1) : undefined;
      if (node.opType === 'Squeeze') return x.filter((_, i) => !axes.some((a) => (a < 0 ? a + x.length : a) === i));
      return [...x, ...axes.map(() => 1)];
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      return [...x.slice(0, 2), ...x.slice(2).map(() => 1)];
    case 'Flatten': {
      const axis = int('axis', 1);
      const a = axis < 0 ? axis + x.length : axis;
      return [elements(x.slice(0, a)), elements(x.slice(a))];
    }
    case 'Transpose': {
      const perm = ints('perm') ?? x.map((_, i) => x.length - 1 - i);
      return perm.map((p) => x[p]);
    }
    case 'Reshape': {
      const t = node.inputs[1] ? initializer(node.inputs[1]) : undefined;
      if (!t) return undefined;
      const spec = Array.from(tensorToFloat64(t));
      const total = elements(x);
      const fixed = spec.map((d, i) => (d === 0 ? x[i] ?? 1 : d));
      const known = fixed.filter((d) => d > 0).reduce((a, b) => a * b, 1);
      return fixed.map((d) => (d === -1 ? Math.max(1, Math.round(total / Math.max(known, 1))) : d));
    }
    case 'Concat': {
      if (ins.some((s) => !s)) return undefined;
      const axis = int('axis', 0);
      const a = axis < 0 ? axis + x.length : axis;
      return x.map((d, i) => (i === a ? ins.reduce((s, q) => s + (q as number[])[i], 0) : d));
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin': {
      const axes = ints('axes');
      if (!axes) return undefined;
      const keep = int('keepdims', 1);
      const norm = axes.map((a) => (a < 0 ? a + x.length : a));
      return keep ? x.map((d, i) => (norm.includes(i) ? 1 : d)) : x.filter((_, i) => !norm.includes(i));
    }
    default:
      return undefined;
  }
}

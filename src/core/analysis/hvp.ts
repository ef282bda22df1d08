import { buildJvpModel, buildVjpModel, DERIVATIVE_OPSET, spanNodes, withBatchSize, type DerivativeModel, type Span } from '../autodiff/derivative';
import { CONTROL_FLOW_OPS } from '../autodiff/controlFlow';
import { ForwardPass } from '../autodiff/probe';
import { REGISTRY } from '../autodiff/registry';
import { SEGMENT_NODES, segmentSpan, type Segment } from '../autodiff/segments';
import { DoctorError, isDoctorError } from '../errors';
import type { Sample } from '../inputs/synthesize';
import { Rng } from '../inputs/rng';
import type { ElementType, NdArray } from '../ndarray';
import { sizeOf } from '../ndarray';
import { float32Tensor } from '../onnx/tensorData';
import { DataType, defaultOpset, type Graph, type Model, type Node, type Tensor } from '../onnx/types';
import { validateGraph } from '../onnx/validate';
import type { ExecutionProviderPreference, RunnerFactory, TensorRunner } from '../ports';
import type { AnalyzeOptions } from './analyze';
import { lossGradient, resolvedLoss } from './gradientFlow';

/** Exact Hessian-vector products at a fixed point, and the sessions behind them. */
export interface ExactHvp {
  /** Writes H v into `out` (both hold every parameter, flattened in the order of `params`). */
  hvp(v: Float32Array, out: Float32Array): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * Exact Hessian-vector products by forward-over-reverse: one graph computes the loss gradient
 * g(theta) (the model, the loss's gradient at the output, and the reverse-mode derivative nodes),
 * and its forward-mode derivative in the parameters, H v = d g(theta) [v], is one more derivative
 * model. No finite differences, so kinks (ReLU) are no obstacle: this is the Hessian autograd
 * computes. Throws 'unsupported' when an op of the reverse graph has no forward rule.
 *
 * Memory: the derivative models are built from the shapes of every tensor of the combined graph,
 * read by probes in one run ({@link probeFacts}); only the values the derivative model reads
 * (activations and cotangents, rarely anything of a weight's size) are fetched and kept.
 * `paramFeeds` are fed by reference, and the products go straight into the caller's float32 vector.
 */
export async function createExactHvp(
  paramModel: Model,
  order: number[],
  sample: Sample,
  paramFeeds: Record<string, NdArray>,
  params: string[],
  outName: string,
  options: AnalyzeOptions,
  createRunner: RunnerFactory,
): Promise<ExactHvp> {
  const opset = defaultOpset(paramModel);
  if (opset < 13 || opset > 17) throw new DoctorError('unsupported', `exact Hessian products need opset 13 to 17 (the model has ${opset})`);
  const ep = options.executionProvider;
  const feeds = { ...sample, ...paramFeeds };
  const forward = await probeFacts(paramModel, feeds, [outName], createRunner, ep);
  const y = forward.values.get(outName);
  if (!y) throw new DoctorError('runtime', `no value for output '${outName}'`);
  const dm = buildVjpModel(paramModel, order, forward, { sources: params, targets: [outName] }, DERIVATIVE_OPSET, [], new Set(params));

  // dL/dy inside the graph, so that its dependence on theta is differentiated too
  const lossNodes: Node[] = [];
  const lossInits = new Map<string, Tensor>();
  const node = (opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = []): void => {
    lossNodes.push({ name: `loss/${opType}_${lossNodes.length}`, opType, domain: '', inputs, outputs, attributes, metadata: {} });
  };
  const gy = 'loss/grad';
  const lossKind = resolvedLoss(options);
  const loss = lossGradient(lossKind, y, new Rng(options.samples.seed), options.labels);
  const onehot = () => {
    const hot = new Float64Array(loss.gradient.length);
    const [batch, classes] = y.dims;
    const inner = hot.length / (batch * classes);
    (loss.labels ?? []).forEach((label, r) => {
      hot[(Math.floor(r / inner) * classes + label) * inner + (r % inner)] = 1;
    });
    return hot;
  };
  // the reduction's factor: 1 / the predictions a mean averages over
  const rows = loss.labels?.length ?? y.dims[0] ?? 1;
  const factor = lossKind.reduction === 'sum' ? 1 : 1 / Math.max(lossKind.kind === 'sum' || lossKind.kind === 'mse' ? y.dims[0] ?? 1 : rows, 1);
  lossInits.set('loss/factor', float32Tensor('loss/factor', [], Float64Array.of(factor)));
  if (lossKind.kind === 'sum') {
    lossInits.set(gy, float32Tensor(gy, y.dims, loss.gradient));
  } else if (lossKind.kind === 'mse') {
    node('Mul', [outName, 'loss/factor'], [gy]);
  } else if (lossKind.kind === 'ce') {
    lossInits.set('loss/onehot', float32Tensor('loss/onehot', y.dims, onehot()));
    node('Softmax', [outName], ['loss/softmax'], [{ name: 'axis', type: 'int', value: 1 }]);
    node('Sub', ['loss/softmax', 'loss/onehot'], ['loss/raw']);
    node('Mul', ['loss/raw', 'loss/factor'], [gy]);
  } else {
    // nll of probabilities: dL/dy = -factor onehot / y at the labels, 0 elsewhere (dividing by 1 there, never by 0)
    const hot = onehot();
    lossInits.set('loss/onehot', float32Tensor('loss/onehot', y.dims, hot));
    lossInits.set('loss/offlabel', float32Tensor('loss/offlabel', y.dims, hot.map((x) => 1 - x)));
    lossInits.set('loss/negonehot', float32Tensor('loss/negonehot', y.dims, hot.map((x) => -factor * x)));
    node('Mul', [outName, 'loss/onehot'], ['loss/atlabel']);
    node('Add', ['loss/atlabel', 'loss/offlabel'], ['loss/denominator']);
    node('Div', ['loss/negonehot', 'loss/denominator'], [gy]);
  }
  lossInits.set('loss/axis0', { name: 'loss/axis0', dataType: 7, dims: [1], raw: new Uint8Array(new BigInt64Array([0n]).buffer) });
  node('Unsqueeze', [gy, 'loss/axis0'], [dm.derivativeInputs[0]]);

  const graph: Graph = {
    ...paramModel.graph,
    nodes: [...paramModel.graph.nodes, ...lossNodes, ...dm.model.graph.nodes],
    initializers: new Map([...paramModel.graph.initializers, ...lossInits, ...dm.model.graph.initializers]),
    outputs: dm.model.graph.outputs,
  };
  const combined: Model = { ...paramModel, opsetImports: [{ domain: '', version: DERIVATIVE_OPSET }, ...paramModel.opsetImports.filter((o) => o.domain !== '' && o.domain !== 'ai.onnx')], graph };
  const combinedOrder = validateGraph(graph);
  const span: Span = { sources: params, targets: dm.derivativeOutputs };
  const fed = new Set(params);
  const facts = await probeFacts(combined, feeds, [], createRunner, ep, forward);
  const segments = segmentSpan(spanNodes(graph, combinedOrder, span), span, SEGMENT_NODES);
  // ops without a rule get finite-difference slopes at the sample, from their own values
  const withoutRule = segments.flatMap((s) => s.nodes).filter((n) => !REGISTRY.has(n.opType) && !CONTROL_FLOW_OPS.has(n.opType));
  await fetchValues(combined, feeds, withoutRule.flatMap((n) => [...n.inputs, ...n.outputs]), facts, createRunner, ep);
  const built: Array<{ segment: Segment; dm: DerivativeModel }> = [];
  for (const segment of segments) {
    await facts.ensureSlopes(segment.nodes, segment.span.sources, createRunner, ep);
    built.push({ segment, dm: withBatchSize(buildJvpModel(combined, combinedOrder, facts, segment.span, DERIVATIVE_OPSET, fed, segment.nodes), 1) });
  }
  // the values the derivative models read, and no others, are kept
  await fetchValues(combined, feeds, built.flatMap((b) => b.dm.primalInputs), facts, createRunner, ep);
  const runners: TensorRunner[] = [];
  try {
    for (const b of built) runners.push(await createRunner(b.dm.model, { executionProvider: ep, fewRuns: true }));
  } catch (e) {
    for (const r of runners) await r.dispose();
    throw e;
  }
  const offsets = new Map<string, { at: number; size: number }>();
  let at = 0;
  for (const p of params) {
    const size = sizeOf(facts.shape(p) ?? []);
    offsets.set(p, { at, size });
    at += size;
  }
  return {
    async hvp(v, out) {
      // the chain of segments' J v, from the parameters' tangents (views of v: nothing copied for float32 parameters)
      const known = new Map<string, NdArray>();
      for (const [k, { segment, dm: model }] of built.entries()) {
        const runFeeds: Record<string, NdArray> = {};
        model.derivativeInputs.forEach((name, i) => {
          const source = segment.span.sources[i];
          const slot = offsets.get(source);
          if (!slot) {
            runFeeds[name] = known.get(source) as NdArray;
            return;
          }
          const part = v.subarray(slot.at, slot.at + slot.size);
          const dims = [1, ...(facts.shape(source) ?? [])];
          runFeeds[name] = facts.dtype(source) === DataType.DOUBLE ? { dtype: 'float64', dims, data: Float64Array.from(part) } : { dtype: 'float32', dims, data: part };
        });
        for (const p of model.primalInputs) runFeeds[p] = facts.values.get(p) as NdArray;
        const result = await runners[k].run(runFeeds, model.derivativeOutputs);
        segment.span.targets.forEach((t, i) => known.set(t, result[model.derivativeOutputs[i]]));
      }
      params.forEach((p, i) => {
        const slot = offsets.get(p) as { at: number; size: number };
        const hv = known.get(dm.derivativeOutputs[i]);
        if (!hv || hv.data.length !== slot.size) throw new DoctorError('runtime', `no Hessian-vector product for '${p}'`);
        out.set(hv.data as Float32Array | Float64Array, slot.at);
      });
    },
    async dispose() {
      for (const r of runners) await r.dispose();
    },
  };
}

/** Values up to this many elements are kept while the facts are gathered (the shape, axis and index inputs rules read). */
const SMALL_VALUE_ELEMENTS = 1024;

const DATA_TYPES: Partial<Record<ElementType, DataType>> = {
  float32: DataType.FLOAT, float64: DataType.DOUBLE, int64: DataType.INT64, int32: DataType.INT32, bool: DataType.BOOL,
  uint8: DataType.UINT8, int8: DataType.INT8, float16: DataType.FLOAT16, int16: DataType.INT16, uint16: DataType.UINT16,
};

/** A forward pass that knows every tensor's shape and element type but holds only some values (the small ones and those fetched). */
class GatheredPass extends ForwardPass {
  constructor(
    model: Model,
    values: Map<string, NdArray>,
    readonly facts: Map<string, { dims: number[]; dtype: ElementType }>,
  ) {
    super(model, values);
  }

  override shape(name: string): number[] | undefined {
    return this.facts.get(name)?.dims ?? super.shape(name);
  }

  override dtype(name: string): DataType | undefined {
    const known = this.facts.get(name);
    return known ? DATA_TYPES[known.dtype] : super.dtype(name);
  }
}

/**
 * The shape and element type of every tensor that `model`'s nodes make at the sample, and the
 * values of the small ones (up to SMALL_VALUE_ELEMENTS elements) and of `keep`, from one run of the
 * model with probes: each tensor's Shape and the first elements of its Flatten, nodes placed
 * right after the node that makes it. Exposing the tensors themselves as outputs would hold every
 * one of them to the end of the run (a combined forward and reverse graph's intermediates: some
 * hundreds of MB, and 3-4x the run time); a probed tensor is freed as soon as its readers ran.
 * `known` contributes what an earlier probe found (a smaller graph's tensors).
 */
async function probeFacts(model: Model, feeds: Record<string, NdArray>, keep: string[], createRunner: RunnerFactory, ep: ExecutionProviderPreference, known?: GatheredPass): Promise<GatheredPass> {
  const values = new Map<string, NdArray>([...(known?.values ?? []), ...Object.entries(feeds)]);
  const facts = new Map(known?.facts ?? []);
  for (const [name, v] of Object.entries(feeds)) facts.set(name, { dims: v.dims, dtype: v.dtype });
  const probed: string[] = [];
  const nodes: Node[] = [];
  const int64 = (name: string, v: bigint[]): Tensor => ({ name, dataType: DataType.INT64, dims: [v.length], raw: new Uint8Array(new BigInt64Array(v).buffer) });
  const initializers = new Map(model.graph.initializers);
  for (const t of [int64('probe/start', [0n]), int64('probe/end', [BigInt(SMALL_VALUE_ELEMENTS)]), int64('probe/axis', [1n])]) initializers.set(t.name, t);
  const node = (opType: string, inputs: string[], output: string, attributes: Node['attributes'] = []): void => {
    nodes.push({ name: output, opType, domain: '', inputs, outputs: [output], attributes, metadata: {} });
  };
  for (const n of model.graph.nodes) {
    nodes.push(n);
    for (const o of n.outputs) {
      if (!o || facts.has(o)) continue;
      const i = probed.push(o) - 1;
      node('Shape', [o], `probe/shape/${i}`);
      node('Flatten', [o], `probe/flat/${i}`, [{ name: 'axis', type: 'int', value: 0 }]);
      node('Slice', [`probe/flat/${i}`, 'probe/start', 'probe/end', 'probe/axis'], `probe/head/${i}`);
    }
  }
  const wanted = keep.filter((k) => !values.has(k));
  if (probed.length === 0 && wanted.length === 0) return new GatheredPass(model, values, facts);
  const record = (name: string, dims: number[], head: NdArray) => {
    facts.set(name, { dims, dtype: head.dtype });
    if (sizeOf(dims) <= SMALL_VALUE_ELEMENTS) values.set(name, { dtype: head.dtype, dims, data: head.data } as NdArray);
  };
  let out: Record<string, NdArray>;
  try {
    const outputs = [...probed.flatMap((_, i) => [`probe/shape/${i}`, `probe/head/${i}`]), ...wanted];
    out = await runOnce({ ...model, graph: { ...model.graph, nodes, initializers, outputs: outputs.map((name) => ({ name })) } }, feeds, outputs, createRunner, ep);
    probed.forEach((name, i) => record(name, Array.from(out[`probe/shape/${i}`].data as BigInt64Array, Number), out[`probe/head/${i}`]));
  } catch (e) {
    if (isDoctorError(e) && e.kind === 'cancelled') throw e;
    // a tensor the probes cannot read (not a plain tensor, say): every tensor exposed instead, as a plain run
    const outputs = [...probed, ...wanted];
    out = await runOnce({ ...model, graph: { ...model.graph, outputs: outputs.map((name) => ({ name })) } }, feeds, outputs, createRunner, ep);
    for (const name of probed) record(name, out[name].dims, out[name]);
  }
  for (const k of wanted) values.set(k, out[k]);
  return new GatheredPass(model, values, facts);
}

/** Adds to `pass` the values of `names` that it lacks and its model's nodes make: one session that exposes them, one run. */
async function fetchValues(model: Model, feeds: Record<string, NdArray>, names: string[], pass: GatheredPass, createRunner: RunnerFactory, ep: ExecutionProviderPreference): Promise<void> {
  const made = new Set(model.graph.nodes.flatMap((n) => n.outputs));
  const missing = [...new Set(names)].filter((n) => n && made.has(n) && !pass.values.has(n));
  if (missing.length === 0) return;
  const out = await runOnce({ ...model, graph: { ...model.graph, outputs: missing.map((name) => ({ name })) } }, feeds, missing, createRunner, ep);
  for (const [name, v] of Object.entries(out)) pass.values.set(name, v);
}

/** One run of `model` in a session of its own. */
async function runOnce(model: Model, feeds: Record<string, NdArray>, fetches: string[], createRunner: RunnerFactory, ep: ExecutionProviderPreference): Promise<Record<string, NdArray>> {
  const runner = await createRunner(model, { executionProvider: ep, fewRuns: true });
  try {
    return await runner.run(feeds, fetches);
  } finally {
    await runner.dispose();
  }
}

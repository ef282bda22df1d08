import { DoctorError, errorMessage, isDoctorError } from '../errors';
import { sizeOf, toNumbers, type NdArray } from '../ndarray';
import { float32Tensor, tensorToFloat64 } from '../onnx/tensorData';
import { defaultOpset, type Attribute, type Graph, type Model, type Node, type Tensor } from '../onnx/types';
import { validateGraph } from '../onnx/validate';
import type { ExecutionProviderPreference, RunnerFactory } from '../ports';
import type { PreparedSamples, SampleOptions } from '../inputs/prepare';
import { synthesizeSamples, type Sample } from '../inputs/synthesize';
import { modulePath } from './layers';
import { propagateShapes } from './memory';

/**
 * BatchNorm as it acts in training (DOMAIN.md section 11; README "BatchNorm at initialisation").
 *
 * A model exported at initialisation carries BatchNorm running statistics at their defaults (mean
 * 0, variance 1): in inference that BatchNorm is the identity, while in training it normalises with
 * the batch's statistics, which is what makes those networks train. PyTorch's eval-mode export goes
 * further and folds each BatchNorm into the convolution before it. This module detects both (and
 * Dropout, which the eval export removes) and rewrites the model so the analysis sees the network
 * that trains: every BatchNorm normalises with statistics computed from a batch of samples, then
 * frozen into the node. The Jacobians are taken with those statistics held constant: the terms of
 * the true training-mode Jacobian through the batch mean and variance (each sample's effect on the
 * statistics, O(1/batch) per sample) are left out.
 */

/** How BatchNorm is analysed: `batch` statistics (as in training), the `running` ones stored in the model, or `auto`. */
export type BatchNormMode = 'auto' | 'batch' | 'running';

/** The samples the batch statistics are computed over (the batch of a typical training step at init). */
export const BATCH_NORM_SAMPLES = 16;

/** Running statistics within this of mean 0 and variance 1 (and folded biases within it of 0) are the defaults. */
export const DEFAULT_STATISTICS_TOLERANCE = 1e-6;

/** PyTorch's default BatchNorm epsilon, for the BatchNorm re-inserted after a folded convolution. */
const FOLDED_EPSILON = 1e-5;

/** A convolution into which the exporter folded a BatchNorm. */
export interface FoldedConv {
  /** The Conv node. */
  node: string;
  /** Its weight and bias initializers (names the exporter made up). */
  weight: string;
  bias: string;
  /** The folded bias is 0: beta - mean * gamma / sqrt(var + eps) with beta = 0 and mean = 0, the BatchNorm at its initial state. */
  atDefaults: boolean;
}

/** What the model holds of BatchNorm and Dropout. */
export interface BatchNormDetection {
  /** BatchNormalization nodes, each with whether its running statistics are at their defaults. */
  nodes: Array<{ node: string; atDefaults: boolean }>;
  folded: FoldedConv[];
  /** Dropout nodes (kept by a training or PRESERVE export; the analysis runs them as the identity, as in inference). */
  dropout: string[];
}

/** What the analysis did about BatchNorm, for the report (run.batchNorm). */
export interface BatchNormOutcome {
  requested: BatchNormMode;
  /** The semantics used. */
  mode: 'batch' | 'running';
  /** Why this mode (the auto rule, the option, or why batch statistics could not be computed). */
  reason: string;
  /** BatchNormalization nodes of the exported graph whose running statistics are mean 0, variance 1. */
  defaultStatistics: string[];
  /** BatchNormalization nodes with trained running statistics. */
  trainedStatistics: string[];
  /** Convolutions holding a folded BatchNorm (re-inserted when mode is batch). */
  folded: FoldedConv[];
  dropout: string[];
  /** Samples the batch statistics were computed over, and in how many forward passes. */
  batchSize?: number;
  passes?: number;
}

/** The Conv weight and bias names PyTorch's constant folding makes up: `onnx::Conv_<n>`. */
const EXPORTER_NAME = /^onnx::Conv_\d+$/;

/** The initializer a tensor name resolves to through Identity nodes (PyTorch deduplicates equal initializers with Identity). */
function resolveInitializer(graph: Graph, name: string, producers: Map<string, Node>): { name: string; tensor: Tensor } | undefined {
  for (let hops = 0; hops < 8; hops++) {
    const t = graph.initializers.get(name);
    if (t) return { name, tensor: t };
    const p = producers.get(name);
    if (!p || p.opType !== 'Identity') return undefined;
    name = p.inputs[0];
  }
  return undefined;
}

function producerMap(graph: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) m.set(o, n);
  return m;
}

function allNear(t: Tensor | undefined, target: number): boolean {
  if (!t) return false;
  const v = tensorToFloat64(t);
  return v.every((x) => Math.abs(x - target) <= DEFAULT_STATISTICS_TOLERANCE);
}

/**
 * Finds BatchNormalization nodes (and whether their running statistics are at their defaults),
 * convolutions with a folded BatchNorm, and Dropout nodes.
 *
 * The folded-BatchNorm signature, from comparing torchvision resnet18 exported by PyTorch 1.13 in
 * eval mode and with `training=TrainingMode.PRESERVE`: in eval mode the exporter's constant folding
 * (fuseConvBN) replaces Conv(x, conv.weight) -> BatchNormalization by one Conv whose weight and bias
 * are new initializers named `onnx::Conv_<n>` (W * gamma / sqrt(var + eps) and beta - mean * gamma /
 * sqrt(var + eps)); a convolution it did not fuse keeps its module's names (`conv1.weight`,
 * `conv1.bias`). Equal initializers are shared through Identity nodes whose outputs keep the
 * exporter's names: in mobilenet_v3_small a folded zero bias of length 16 resolves to
 * `features.1.block.1.fc2.bias` (an unfused conv's zero bias) through `onnx::Conv_403`. So a Conv
 * whose weight resolves to an exporter-named initializer and whose bias is exporter-named (as read,
 * or where it resolves) is a folded one (folded weights W * gamma / sqrt(var + eps) equal no module
 * tensor, so they are never deduplicated into one); its
 * node name still carries the module (`/layer1/layer1.0/conv1/Conv`). At the initial statistics the
 * folded bias is exactly beta = 0, which tells a model folded at initialisation from a trained one.
 */
export function detectBatchNorm(model: Model): BatchNormDetection {
  const graph = model.graph;
  const producers = producerMap(graph);
  const nodes: BatchNormDetection['nodes'] = [];
  const folded: FoldedConv[] = [];
  const dropout: string[] = [];
  graph.nodes.forEach((n, i) => {
    const name = n.name || `${n.opType}_${i}`;
    if (n.opType === 'BatchNormalization') {
      const mean = resolveInitializer(graph, n.inputs[3] ?? '', producers)?.tensor;
      const variance = resolveInitializer(graph, n.inputs[4] ?? '', producers)?.tensor;
      nodes.push({ node: name, atDefaults: allNear(mean, 0) && allNear(variance, 1) });
    } else if (n.opType === 'Dropout') {
      dropout.push(name);
    } else if (n.opType === 'Conv' && n.inputs.length >= 3 && n.inputs[2]) {
      const w = resolveInitializer(graph, n.inputs[1], producers);
      const b = resolveInitializer(graph, n.inputs[2], producers);
      // the bias input keeps the exporter's name even when deduplicated into an equal module tensor (a zero bias of the same length)
      if (w && b && EXPORTER_NAME.test(w.name) && (EXPORTER_NAME.test(n.inputs[2]) || EXPORTER_NAME.test(b.name))) {
        folded.push({ node: name, weight: w.name, bias: b.name, atDefaults: allNear(b.tensor, 0) });
      }
    }
  });
  return { nodes, folded, dropout };
}

/** The mode `auto` resolves to, and why. */
export function resolveBatchNormMode(requested: BatchNormMode, d: BatchNormDetection): { mode: 'batch' | 'running'; reason: string } {
  const atDefaults = d.nodes.filter((n) => n.atDefaults).length;
  const foldedAtDefaults = d.folded.filter((f) => f.atDefaults).length;
  if (requested === 'batch') return { mode: 'batch', reason: 'batch statistics requested (--batchnorm batch)' };
  if (requested === 'running') return { mode: 'running', reason: 'running statistics requested (--batchnorm running)' };
  if (atDefaults > 0 || foldedAtDefaults > 0) {
    const what = [
      atDefaults > 0 ? `${atDefaults} BatchNorm node${atDefaults === 1 ? '' : 's'} with running statistics at their defaults (mean 0, variance 1)` : '',
      foldedAtDefaults > 0 ? `${foldedAtDefaults} convolution${foldedAtDefaults === 1 ? '' : 's'} with a BatchNorm folded in at its initial statistics` : '',
    ].filter(Boolean).join(' and ');
    return { mode: 'batch', reason: `the model was exported at initialisation (${what}): analysed as in training, with batch statistics` };
  }
  return { mode: 'running', reason: d.nodes.length > 0 ? 'trained running statistics, used as they are' : 'no BatchNorm at its initial statistics' };
}

/**
 * What the model holds of BatchNorm and Dropout and the semantics `requested` resolves to, before
 * any batch is run (what `inspect` prints, and what the analysis starts from); undefined when the
 * model has neither BatchNorm, folded BatchNorm nor Dropout.
 */
export function batchNormPlan(d: BatchNormDetection, requested: BatchNormMode): BatchNormOutcome | undefined {
  if (d.nodes.length === 0 && d.folded.length === 0 && d.dropout.length === 0) return undefined;
  const resolved = resolveBatchNormMode(requested, d);
  return {
    requested, mode: resolved.mode, reason: resolved.reason,
    defaultStatistics: d.nodes.filter((n) => n.atDefaults).map((n) => n.node),
    trainedStatistics: d.nodes.filter((n) => !n.atDefaults).map((n) => n.node),
    folded: d.folded, dropout: d.dropout,
  };
}

/**
 * Re-inserts a BatchNormalization after each folded convolution: the convolution loses its bias,
 * and the BatchNorm (scale 1, statistics to be set from the batch) takes the folded bias as its
 * beta. At the initial statistics the folded bias is beta and the folded weight is W * gamma /
 * sqrt(1 + eps), a per-channel scale that normalisation with batch statistics cancels, so the
 * result is the network that trains (with gamma = 1, PyTorch's init). A convolution's bias before
 * BatchNorm is cancelled by the batch mean in training, which is why it moves to beta instead.
 */
export function reinsertFolded(model: Model, folded: FoldedConv[]): Model {
  if (folded.length === 0) return model;
  const byName = new Set(folded.map((f) => f.node));
  const graph = model.graph;
  const initializers = new Map(graph.initializers);
  const nodes: Node[] = [];
  graph.nodes.forEach((n, i) => {
    const name = n.name || `${n.opType}_${i}`;
    const f = folded.find((x) => x.node === name);
    if (!byName.has(name) || !f) {
      nodes.push(n);
      return;
    }
    const channels = graph.initializers.get(f.weight)?.dims[0];
    if (channels === undefined) throw new DoctorError('invalid-graph', `folded convolution ${name}: no weight ${f.weight}`);
    const base = `${modulePath(name) ?? `/${name}`}/BatchNormalization`;
    const scale = `${base}.gd_scale`;
    initializers.set(scale, float32Tensor(scale, [channels], new Float32Array(channels).fill(1)));
    // placeholders until the batch statistics are set (mean 0, variance 1: the folded state)
    initializers.set(`${base}.gd_mean`, float32Tensor(`${base}.gd_mean`, [channels], new Float32Array(channels)));
    initializers.set(`${base}.gd_var`, float32Tensor(`${base}.gd_var`, [channels], new Float32Array(channels).fill(1)));
    const convOut = `${n.outputs[0]}.gd_unnormalised`;
    nodes.push({ ...n, inputs: n.inputs.slice(0, 2), outputs: [convOut] });
    nodes.push({
      name: base, opType: 'BatchNormalization', domain: '', inputs: [convOut, scale, n.inputs[2], `${base}.gd_mean`, `${base}.gd_var`], outputs: [n.outputs[0]],
      attributes: [{ name: 'epsilon', type: 'float', value: FOLDED_EPSILON }], metadata: {},
    });
  });
  return { ...model, graph: { ...graph, nodes, initializers } };
}

/** Per-channel statistics of each BatchNorm's input over the batch and spatial axes (biased variance, as training normalises). */
export type BatchStatistics = Map<string, { mean: Float64Array; variance: Float64Array }>;

/** The model with each BatchNorm's statistics replaced by `stats` (new initializers: running statistics may be shared through Identity) and inference mode. */
export function freezeStatistics(model: Model, stats: BatchStatistics): Model {
  const graph = model.graph;
  const initializers = new Map(graph.initializers);
  const nodes = graph.nodes.map((n, i) => {
    const name = n.name || `${n.opType}_${i}`;
    const s = n.opType === 'BatchNormalization' ? stats.get(name) : undefined;
    if (!s) return n;
    const mean = `${name}.gd_batch_mean`;
    const variance = `${name}.gd_batch_var`;
    initializers.set(mean, float32Tensor(mean, [s.mean.length], s.mean));
    initializers.set(variance, float32Tensor(variance, [s.variance.length], s.variance));
    return inferenceMode({ ...n, inputs: [n.inputs[0], n.inputs[1], n.inputs[2], mean, variance] });
  });
  return { ...model, graph: { ...graph, nodes, initializers } };
}

/** A BatchNorm of a training export (training_mode 1, three outputs) as inference runs it. */
function inferenceMode(n: Node): Node {
  const attributes = n.attributes.filter((a) => a.name !== 'training_mode' && a.name !== 'spatial');
  return { ...n, attributes, outputs: n.outputs.slice(0, 1) };
}

/**
 * Batch statistics of every BatchNorm in ONE forward pass: each BatchNorm reads its mean and
 * variance from ReduceMean nodes over its own input (all axes but the channel), so, in topological
 * order, each one's statistics are those of its input with the earlier BatchNorms normalised by
 * theirs, as in a training step. The samples are concatenated along the first (batch) axis, which
 * the graph's declared inputs and outputs are relaxed to leave free.
 */
function statisticsGraph(model: Model, ranks: Map<string, number>): { model: Model; fetch: Map<string, [string, string]> } {
  const opset = defaultOpset(model);
  const graph = model.graph;
  const initializers = new Map(graph.initializers);
  const fetch = new Map<string, [string, string]>();
  const nodes: Node[] = [];
  graph.nodes.forEach((n, i) => {
    const name = n.name || `${n.opType}_${i}`;
    if (n.opType !== 'BatchNormalization') {
      nodes.push(n);
      return;
    }
    const rank = ranks.get(name);
    if (rank === undefined || rank < 2) throw new Error(`the rank of ${name}'s input is unknown`);
    const axes = [0, ...Array.from({ length: rank - 2 }, (_, k) => k + 2)];
    const reduce = (input: string, output: string, keepdims: number): Node => {
      const attributes: Attribute[] = [{ name: 'keepdims', type: 'int', value: keepdims }];
      const inputs = [input];
      if (opset >= 18) {
        const axesName = `${name}.gd_axes`;
        initializers.set(axesName, { name: axesName, dataType: 7, dims: [axes.length], raw: new Uint8Array(BigInt64Array.from(axes.map(BigInt)).buffer) });
        inputs.push(axesName);
      } else {
        attributes.push({ name: 'axes', type: 'ints', value: axes });
      }
      return { name: `${name}/gd_${output}`, opType: 'ReduceMean', domain: '', inputs, outputs: [`${name}.gd_${output}`], attributes, metadata: {} };
    };
    const x = n.inputs[0];
    nodes.push(reduce(x, 'mean_kept', 1));
    nodes.push(reduce(x, 'batch_mean', 0));
    nodes.push({ name: `${name}/gd_centred`, opType: 'Sub', domain: '', inputs: [x, `${name}.gd_mean_kept`], outputs: [`${name}.gd_centred`], attributes: [], metadata: {} });
    nodes.push({ name: `${name}/gd_square`, opType: 'Mul', domain: '', inputs: [`${name}.gd_centred`, `${name}.gd_centred`], outputs: [`${name}.gd_square`], attributes: [], metadata: {} });
    nodes.push(reduce(`${name}.gd_square`, 'batch_var', 0));
    nodes.push(inferenceMode({ ...n, inputs: [x, n.inputs[1], n.inputs[2], `${name}.gd_batch_mean`, `${name}.gd_batch_var`] }));
    fetch.set(name, [`${name}.gd_batch_mean`, `${name}.gd_batch_var`]);
  });
  const free = (v: Graph['inputs'][number]) => (v.type?.kind === 'tensor' && v.type.shape && v.type.shape.length > 0 ? { ...v, type: { ...v.type, shape: ['gd_batch', ...v.type.shape.slice(1)] } } : v);
  const inputs = graph.inputs.map((v) => (initializers.has(v.name) ? v : free(v)));
  return { model: { ...model, graph: { ...graph, nodes, initializers, inputs, outputs: graph.outputs.map(free), valueInfo: [] } }, fetch };
}

/** Per-channel mean and biased variance of `x` ([N, C, ...]) over every axis but 1, accumulated in float64. */
export function channelStatistics(xs: NdArray[]): { mean: Float64Array; variance: Float64Array } {
  const channels = xs[0].dims[1];
  const sum = new Float64Array(channels);
  const sq = new Float64Array(channels);
  let count = 0;
  for (const x of xs) {
    const v = toNumbers(x);
    const inner = sizeOf(x.dims.slice(2));
    const n = x.dims[0];
    for (let b = 0; b < n; b++) for (let c = 0; c < channels; c++) {
      const off = (b * channels + c) * inner;
      for (let k = 0; k < inner; k++) sum[c] += v[off + k];
    }
    count += n * inner;
  }
  const mean = sum.map((s) => s / count);
  for (const x of xs) {
    const v = toNumbers(x);
    const inner = sizeOf(x.dims.slice(2));
    for (let b = 0; b < x.dims[0]; b++) for (let c = 0; c < channels; c++) {
      const off = (b * channels + c) * inner;
      for (let k = 0; k < inner; k++) sq[c] += (v[off + k] - mean[c]) ** 2;
    }
  }
  return { mean, variance: sq.map((s) => s / count) };
}

/** The samples joined along the first axis, one batch. */
export function concatBatch(samples: Sample[]): Sample {
  const out: Sample = {};
  for (const name of Object.keys(samples[0])) {
    const parts = samples.map((s) => s[name]);
    const first = parts[0];
    if (first.dims.length === 0) throw new Error(`input ${name} has no batch axis`);
    const total = parts.reduce((a, p) => a + p.data.length, 0);
    const Ctor = first.data.constructor as new (n: number) => typeof first.data;
    const data = new Ctor(total);
    let off = 0;
    for (const p of parts) {
      (data as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(p.data as ArrayLike<unknown>, off);
      off += p.data.length;
    }
    out[name] = { dtype: first.dtype, dims: [parts.reduce((a, p) => a + p.dims[0], 0), ...first.dims.slice(1)], data } as NdArray;
  }
  return out;
}

/**
 * The batch statistics of every BatchNorm, over `batch` (samples drawn like the analysis's). One
 * forward pass of the statistics graph when the model runs a batch; when it does not (a Reshape
 * that hard-codes the exported batch size, as torchvision's shufflenet channel shuffle traced at
 * batch 1), the statistics are gathered level by level: a BatchNorm's level is the number of
 * BatchNorms on the longest path above it, and one round of single-sample passes (all BatchNorms
 * of earlier levels frozen at their batch statistics) gives every BatchNorm of the next level its
 * input, so the passes are (levels) x (samples), the fewest that sample-at-a-time running allows.
 */
export async function batchStatistics(model: Model, batch: Sample[], createRunner: RunnerFactory, ep: ExecutionProviderPreference): Promise<{ stats: BatchStatistics; passes: number; note?: string }> {
  const bns = model.graph.nodes.map((n, i) => ({ n, name: n.name || `${n.opType}_${i}` })).filter((x) => x.n.opType === 'BatchNormalization');
  const shapes = propagateShapes(model, new Map(Object.entries(batch[0]).map(([k, v]) => [k, v.dims])));
  const ranks = new Map(bns.map((b) => [b.name, shapes.get(b.n.inputs[0])?.length ?? -1]));
  let oneShot: Error | undefined;
  try {
    const { model: sm, fetch } = statisticsGraph(model, ranks);
    validateGraph(sm.graph);
    const runner = await createRunner(sm, { executionProvider: ep, extraOutputs: [...fetch.values()].flat(), fewRuns: true });
    try {
      const out = await runner.run(concatBatch(batch), [...fetch.values()].flat());
      const stats: BatchStatistics = new Map();
      for (const [name, [m, v]] of fetch) stats.set(name, { mean: toNumbers(out[m]), variance: toNumbers(out[v]) });
      return { stats, passes: 1 };
    } finally {
      await runner.dispose();
    }
  } catch (e) {
    if (isDoctorError(e) && e.kind === 'cancelled') throw e;
    oneShot = e instanceof Error ? e : new Error(errorMessage(e));
  }
  // level by level, one sample at a time
  const order = validateGraph(model.graph);
  const level = new Map<string, number>();
  const bnLevel = new Map<string, number>();
  for (const i of order) {
    const n = model.graph.nodes[i];
    const name = n.name || `${n.opType}_${i}`;
    const above = Math.max(0, ...n.inputs.map((x) => level.get(x) ?? 0));
    if (n.opType === 'BatchNormalization') bnLevel.set(name, above);
    for (const o of n.outputs) level.set(o, above + (n.opType === 'BatchNormalization' ? 1 : 0));
  }
  const stats: BatchStatistics = new Map();
  const levels = Math.max(0, ...bnLevel.values()) + 1;
  let passes = 0;
  for (let l = 0; l < levels; l++) {
    const at = bns.filter((b) => bnLevel.get(b.name) === l);
    if (at.length === 0) continue;
    const frozen = freezeStatistics(model, stats);
    const fetches = [...new Set(at.map((b) => b.n.inputs[0]))];
    const runner = await createRunner(frozen, { executionProvider: ep, extraOutputs: fetches });
    const inputsOf = new Map<string, NdArray[]>(fetches.map((f) => [f, []]));
    try {
      for (const sample of batch) {
        const out = await runner.run(sample, fetches);
        passes++;
        for (const f of fetches) inputsOf.get(f)?.push(out[f]);
      }
    } finally {
      await runner.dispose();
    }
    for (const b of at) stats.set(b.name, channelStatistics(inputsOf.get(b.n.inputs[0]) ?? []));
  }
  return { stats, passes, note: `a batch of ${batch.length} did not run in one pass (${oneShot.message.split('\n')[0]}), so the statistics were gathered level by level` };
}

/** Offset of the seed of the batch the statistics are drawn from, apart from the analysis's samples. */
const BATCH_STREAM = 32_452_843;

/**
 * The model as the analysis sees its BatchNorm (hooked after flattenForAnalysis): with `batch`
 * semantics, folded BatchNorms re-inserted and every BatchNorm's statistics set to those of a batch
 * of {@link BATCH_NORM_SAMPLES} samples drawn by the analysis's synthesizer (or the user's sample
 * files, all of them), frozen into the nodes. `batchNorm` is undefined when the model has neither
 * BatchNorm, folded BatchNorm nor Dropout.
 */
export async function prepareBatchNorm(
  model: Model,
  order: number[],
  requested: BatchNormMode,
  prepared: PreparedSamples,
  sampleOptions: SampleOptions,
  createRunner: RunnerFactory,
  ep: ExecutionProviderPreference,
): Promise<{ model: Model; order: number[]; batchNorm?: BatchNormOutcome }> {
  const d = detectBatchNorm(model);
  const outcome = batchNormPlan(d, requested);
  if (!outcome) return { model, order };
  if (outcome.mode === 'running' || (d.nodes.length === 0 && d.folded.length === 0)) return { model, order, batchNorm: outcome };
  const batch = prepared.source === 'files'
    ? prepared.samples
    : synthesizeSamples(model, prepared.recipes.map((r) => ({ name: r.input, dtype: r.dtype, declared: r.dims, dims: r.dims })), { count: BATCH_NORM_SAMPLES, seed: sampleOptions.seed * 7919 + BATCH_STREAM, distribution: sampleOptions.distribution }).samples;
  const reinserted = reinsertFolded(model, d.folded);
  const { stats, passes, note } = await batchStatistics(reinserted, batch, createRunner, ep);
  const frozen = freezeStatistics(reinserted, stats);
  return {
    model: frozen,
    order: validateGraph(frozen.graph),
    batchNorm: { ...outcome, reason: note ? `${outcome.reason}; ${note}` : outcome.reason, batchSize: batch.length * (batch[0][Object.keys(batch[0])[0]]?.dims[0] ?? 1), passes },
  };
}

import { DoctorError, errorMessage, isDoctorError } from '../errors';
import { DerivativeRunner, ForwardPass } from '../autodiff/probe';
import type { PreparedSamples, SampleOptions } from '../inputs/prepare';
import { prepareRunnableSamples } from '../inputs/sizeLadder';
import { Rng } from '../inputs/rng';
import type { ModelSource } from '../inspect';
import { sizeOf, toNumbers } from '../ndarray';
import { summarizeModel } from '../onnx/summary';
import { circularConvSingularValues, circularSpectrumFlops, CIRCULAR_SPECTRUM_MAX_FLOPS } from '../linalg/convSpectrum';
import { tensorToFloat64 } from '../onnx/tensorData';
import { DataType, defaultOpset, getAttribute, type Model } from '../onnx/types';
import type { ExecutionProviderPreference, RunnerFactory } from '../ports';
import { cancellableRunners, checkpoint, type WorkContext } from '../progress';
import { hasRecurrent, RECURRENT_OPS, unrollRecurrent, type UnrolledSteps } from '../autodiff/unroll';
import { validateGraph } from '../onnx/validate';
import { REPORT_SCHEMA_MINOR, REPORT_SCHEMA_VERSION, type AnalysisReport, type LayerReport, type ParameterReport } from '../report/types';
import { diagnose, type DiagnosisOptions } from '../diagnosis/diagnose';
import { estimateCurvature } from './curvature';
import { lossGradient, median, norm, resolveLoss, type Loss, type LossKind, type LossReduction } from './gradientFlow';
import { assembleMany, DEFAULT_PROBE_LIMITS, END_TO_END_EXACT_MAX_DIM, EXACT_MAX_DIM, probeFirstLookMany, probeJacobian, probeSigmaMax, probeSigmaMaxMany, spanKey, type GramFunction, type JacobianFigures } from './jacobian';
import { createOrtGram } from './gram';
import { DEFAULT_MEMORY_BUDGET_MB, planForBudget, type MemoryPlan, type ProbeLimits } from './memory';
import { resolveInputs } from '../inputs/signature';
import { flattenForAnalysis } from './flatten';
import { prepareBatchNorm, type BatchNormMode, type BatchNormOutcome } from './batchNorm';
import { findLayers, type Granularity, type Layer } from './layers';
import { NumericsTracker } from './numerics';
import { SaturationTracker } from './saturation';
import { weightFigures } from './weights';

/** Options of {@link analyzeModel} (CLI flags and VS Code settings map onto these). */
export interface AnalyzeOptions {
  executionProvider: ExecutionProviderPreference;
  samples: SampleOptions;
  loss: LossKind;
  /** Mean (PyTorch's default) or sum over the batch's predictions. */
  lossReduction?: LossReduction;
  /** Class labels for the 'ce' loss, one per prediction of a sample. */
  labels?: number[];
  granularity: Granularity;
  /** Heavy-ball momentum for the stable learning-rate bound (DOMAIN.md section 8). */
  momentum: number;
  /** Lanczos steps for the Hessian's top eigenvalue; 0 skips the curvature. */
  curvatureIterations: number;
  /** Threshold overrides and training facts for the diagnosis rules. */
  diagnosis?: DiagnosisOptions;
  /** BatchNorm with batch statistics (as in training), running statistics, or `auto`: batch when the model was exported at initialisation. */
  batchNorm?: BatchNormMode;
  /** The memory the analysis may use, in MiB (default DEFAULT_MEMORY_BUDGET_MB): it lowers what it can to fit, or refuses. */
  memoryBudgetMB?: number;
}

/** Defaults of {@link AnalyzeOptions} (documented in the README). */
export const DEFAULT_ANALYZE_OPTIONS: Omit<AnalyzeOptions, 'executionProvider' | 'samples'> = {
  loss: 'auto',
  lossReduction: 'mean',
  batchNorm: 'auto',
  granularity: 'layer',
  momentum: 0.9,
  curvatureIterations: 20,
};

/** A model ready for analysis: decoded, validated, with its topological order. */
export interface AnalysisSource extends ModelSource {
  order: number[];
}

interface SampleResult {
  jacobians: Array<JacobianFigures | Error>;
  gradients: Map<string, number> | Error;
  endToEnd: JacobianFigures | Error;
  lossValue: number | null;
  /** The first answer's figures of the layers not yet probed in full (first sample only). */
  firstLook?: Array<JacobianFigures | Error | undefined>;
}

/**
 * Analyses a model (DOMAIN.md sections 1-4, 7, 8): per-layer Jacobian figures at every sample,
 * the gradient flow of a scalar loss through the whole model, the end-to-end Jacobian, weight-only
 * figures and the Hessian's top eigenvalue. A layer whose probe fails is reported failed with its
 * reason; the rest of the report stands.
 */
export async function analyzeModel(
  source: AnalysisSource,
  options: AnalyzeOptions,
  createRunnerOf: RunnerFactory,
  versions: { ort: string; tool: string },
  ctx?: WorkContext,
): Promise<AnalysisReport> {
  const t0 = performance.now();
  const createRunner = cancellableRunners(createRunnerOf, ctx);
  const progress = (message: string, fraction: number) => ctx?.onProgress?.({ message, fraction });
  progress('Preparing sample inputs', 0);
  // the memory budget, before anything is allocated or run: at the inputs' declared sizes, then at the samples' own
  const budgetMB = options.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB;
  const planAt = (dims: Map<string, number[]>) => planForBudget(source.model, dims, budgetMB, DEFAULT_PROBE_LIMITS, options.curvatureIterations > 0, source.path);
  let memory = planAt(new Map(resolveInputs(source.model, options.samples.dimensions, source.path).inputs.map((i) => [i.name, i.dims])));
  const prepared = await prepareRunnableSamples(source.model, options.samples, source.path, createRunner, options.executionProvider, ctx);
  memory = planAt(new Map(Object.entries(prepared.samples[0]).map(([name, v]) => [name, v.dims])));
  const limits = { probeBatchElements: memory.probeBatchElements, exactMaxEntries: memory.exactMaxEntries };
  // If, Loop and Scan as they run at the first sample, and weights stored as Constant nodes, become the model's own layers and parameters
  const flat = await flattenForAnalysis(source.model, source.order, prepared.samples[0], createRunner, options.executionProvider);
  // BatchNorm as it acts in training when the model was exported at initialisation (README "BatchNorm at initialisation")
  progress('BatchNorm: batch statistics', 0);
  const bn = await prepareBatchNorm(flat.model, flat.order, options.batchNorm ?? 'auto', prepared, options.samples, createRunner, options.executionProvider);
  const model = bn.model;
  const modelOrder = bn.order;
  const graph = model.graph;
  const opset = defaultOpset(model);
  const summary = summarizeModel(model, source.externalDataFiles);
  const layers = findLayers(model, modelOrder, options.granularity);
  const gram = await createOrtGram(createRunner, options.executionProvider);
  const parameters = await weightFigures(model, layers, gram.gram);
  const trainable = parameters.filter((p) => !p.aliasOf && !isRunningStatistic(model, p.name)).map((p) => p.name);
  const aliases = parameters.filter((p) => p.aliasOf && !isRunningStatistic(model, p.name)).map((p) => p.name);
  const nonFinite = nonFiniteWeights(parameters, model);
  const outName = graph.outputs[0]?.name;
  if (!outName) throw new DoctorError('invalid-graph', 'the model has no outputs');
  const floatInputs = graph.inputs.filter((i) => !graph.initializers.has(i.name) && i.type?.kind === 'tensor' && isFloat(i.type.elemType)).map((i) => i.name);
  const results: SampleResult[] = [];
  let runsTotal = 0;
  let productFlops = 0;
  let executionProvider = { requested: options.executionProvider, used: 'cpu', fallbackReason: undefined as string | undefined };
  const saturation = new SaturationTracker();
  const numerics = new NumericsTracker();
  const estimatedOps = new Set<string>();
  let curvatureModel = { model, order: modelOrder };
  let resolved: Loss | undefined;
  const producer = graph.nodes.find((n) => n.outputs.includes(outName))?.opType;
  const throughTime: Array<Array<{ node: string; norms: number[] }>> = [];
  /** Each recurrent node, unrolled through time or why not (README "Recurrent networks"). */
  const recurrent: NonNullable<AnalysisReport['run']['recurrent']> = [];
  const opTypeOf = (name: string) => graph.nodes.find((n) => n.name === name)?.opType ?? 'recurrent';
  // the samples' steps fill the bar up to the curvature's 0.97; the first answer's looks and the conv norms of the first sample are more steps
  const steps = (prepared.samples.length * (layers.length + 2) + (ctx?.onPartial ? layers.length : 0) + 1) / 0.97;
  let step = 0;
  // The first answer (issue: a right-click tool answers in seconds): at the first sample, the forward
  // pass, the gradient flow and a first look at every layer, reported before the full probes refine it.
  const firstLook: Array<JacobianFigures | Error | undefined> = layers.map(() => undefined);
  let current: SampleResult | undefined;
  let currentRunner: DerivativeRunner | undefined;
  let lastPartial = 0;
  const reportAt = (phase?: 'first-answer' | 'refining', curvature?: AnalysisReport['curvature']): AnalysisReport => {
    const done = current ? [...results, current] : results;
    return buildReport({
      source, model, opset, summary, layers, parameters, prepared, options, executionProvider, resolved, estimatedOps, flat, nonFinite, batchNorm: bn.batchNorm,
      numerics, saturation, throughTime, recurrent, results: done, t0, phase, firstAnswerMs, memory, runsTotal: runsTotal + (currentRunner?.runs ?? 0), productFlops: productFlops + (currentRunner?.productFlops ?? 0),
      curvature: curvature ?? { hessianMaxEigenvalue: null, maxStableLearningRate: null, maxStableLearningRateMomentum: null, momentum: options.momentum, reason: 'the curvature comes after the layer probes, which the analysis had not finished' },
    }, versions);
  };
  let firstAnswerMs: number | undefined;
  /** Reports the figures so far (at most one refinement a second: each runs the diagnosis and crosses to the view). */
  const partial = (phase: 'first-answer' | 'refining', force = false) => {
    if (!ctx?.onPartial) return;
    const now = performance.now();
    if (!force && now - lastPartial < PARTIAL_INTERVAL_MS) return;
    lastPartial = now;
    ctx.onPartial(reportAt(phase));
  };
  for (const [s, sample] of prepared.samples.entries()) {
    await checkpoint(ctx);
    progress(`Sample ${s + 1}/${prepared.samples.length}: forward pass`, step / steps);
    let forward = await ForwardPass.run(model, sample, async (m, o) => {
      const r = await createRunner(m, o);
      executionProvider = { requested: options.executionProvider, used: r.executionProvider.used, fallbackReason: r.executionProvider.fallbackReason };
      return r;
    }, options.executionProvider);
    if (s === 0) nonFinite.push(...nonFiniteActivations(forward, modelOrder));
    saturation.add(layers, forward);
    numerics.add(forward);
    // Recurrent ops are differentiated through their unrolled form (time is depth).
    let order = modelOrder;
    let unrolledSteps: UnrolledSteps[] = [];
    if (hasRecurrent(model)) {
      try {
        const unrolled = unrollRecurrent(model, (t) => forward.shape(t));
        order = validateGraph(unrolled.model.graph);
        forward = await ForwardPass.run(unrolled.model, sample, createRunner, options.executionProvider);
        unrolledSteps = unrolled.steps;
        if (s === 0) curvatureModel = { model: unrolled.model, order };
        if (s === 0) recurrent.push(...unrolled.steps.map((u) => ({ node: u.node, opType: opTypeOf(u.node), unrolled: true, how: `unrolled into its ${u.hidden.length} steps (time is depth)` })));
      } catch (e) {
        // analysed as it is: say so, since every figure through it changes meaning
        if (s === 0) {
          for (const n of graph.nodes.filter((x) => RECURRENT_OPS.has(x.opType))) {
            recurrent.push({ node: n.name, opType: n.opType, unrolled: false, how: `not unrolled: ${errorMessage(asError(e))}; figures through it are finite-difference estimates where it is small enough, and the gradient flow stops at it` });
          }
        }
      }
    }
    const runner = new DerivativeRunner(forward, order, opset, createRunner, options.executionProvider);
    currentRunner = runner;
    const rng = new Rng(options.samples.seed * 7919 + s);
    const shapeOf = (t: string) => forward.shape(t) ?? [];
    try {
      await checkpoint(ctx);
      progress(`Sample ${s + 1}: gradient flow`, step++ / steps);
      const y = forward.values.get(outName);
      resolved ??= y ? resolveLoss(options.loss, options.lossReduction ?? 'mean', y, producer) : undefined;
      const loss = y && resolved ? lossGradient(resolved, y, new Rng(options.samples.seed * 7919 + s + LOSS_STREAM), options.labels) : undefined;
      const stepNames = unrolledSteps.flatMap((u) => u.hidden);
      const gradients = loss ? await gradientNorms(runner, [...floatInputs, ...trainable], outName, loss.gradient, layers, [...aliases, ...stepNames]).catch(asError) : new Error('no value for the first output');
      if (!(gradients instanceof Error)) throughTime.push(unrolledSteps.map((u) => ({ node: u.node, norms: u.hidden.map((h) => gradients.get(h) ?? 0) })));
      const jacobians: Array<JacobianFigures | Error> = [];
      current = { jacobians, gradients, endToEnd: new Error(REFINING), lossValue: loss?.value ?? null, firstLook: s === 0 ? firstLook : undefined };
      // Layers on the exact path, many to a merged derivative model and run (a session and a run per
      // small layer dominated them): the tiny ones before the first look (their exact figures cost
      // less than a first look), the others after it.
      const spans = layers.map((l) => ({ sources: l.inputTensors, targets: l.outputTensors }));
      const exact = new Map<number, JacobianFigures | Error>();
      const assembleExact = async (tiny: boolean) => {
        await checkpoint(ctx);
        const chosen = spans.filter((sp) => !exact.has(spans.indexOf(sp)) && (!tiny || entriesOf(sp, shapeOf) <= FIRST_LOOK_EXACT_ENTRIES));
        const assembled = await assembleMany(runner, chosen, shapeOf, EXACT_MAX_DIM, limits);
        for (const layer of layers) {
          const j = assembled.get(spanKey(spans[layer.index]));
          if (j) exact.set(layer.index, await probe(runner, spans[layer.index], shapeOf, rng, gram.gram, EXACT_MAX_DIM, limits, j));
        }
      };
      await assembleExact(s === 0 && !!ctx?.onPartial);
      // the first look is for someone waiting on the first answer (the editor, the CLI); what-if and compare wait for the final reports
      if (s === 0 && ctx?.onPartial) {
        const lookRng = new Rng(options.samples.seed * 7919 + FIRST_LOOK_STREAM);
        await checkpoint(ctx);
        progress(`First answer: ${layers.length} layers`, step / steps);
        const looking = layers.filter((l) => !exact.has(l.index));
        const looks = await probeFirstLookMany(runner, looking.map((l) => spans[l.index]), shapeOf, lookRng, limits);
        looking.forEach((l, i) => (firstLook[l.index] = looks[i]));
        for (const [i, j] of exact) firstLook[i] = j;
        step += layers.length;
        firstAnswerMs = performance.now() - t0;
        partial('first-answer', true);
        await assembleExact(false);
      }
      for (const layer of layers) {
        await checkpoint(ctx);
        progress(`Probing layer ${layer.index + 1}/${layers.length}: ${layer.name}`, step++ / steps);
        jacobians.push(exact.get(layer.index) ?? await probe(runner, spans[layer.index], shapeOf, rng, gram.gram, EXACT_MAX_DIM, limits));
        partial('refining');
      }
      await checkpoint(ctx);
      progress(`Sample ${s + 1}: end-to-end Jacobian`, step++ / steps);
      current.endToEnd = floatInputs.length > 0
        ? await probe(runner, { sources: floatInputs, targets: [outName] }, shapeOf, rng, gram.gram, END_TO_END_EXACT_MAX_DIM, limits)
        : new Error('the model has no float inputs (its inputs are integer ids), so there is no input-to-output Jacobian');
      if (s === 0) {
        await checkpoint(ctx);
        progress('Weights: operator norms of the convolutions', step / steps);
        const probed = new Map<string, JacobianFigures>();
        layers.forEach((l, i) => {
          const j = jacobians[i];
          if (!(j instanceof Error) && l.inputTensors.length === 1 && l.outputTensors.length === 1 && (j.method === 'exact' || j.method === 'lanczos')) probed.set(`${l.inputTensors[0]} -> ${l.outputTensors[0]}`, j);
        });
        await convOperatorNorms(runner, model, parameters, shapeOf, rng, probed);
      }
      results.push(current);
      current = undefined;
      for (const op of runner.estimated) estimatedOps.add(op);
    } finally {
      runsTotal += runner.runs;
      productFlops += runner.productFlops;
      currentRunner = undefined;
      await runner.dispose();
    }
    partial('refining', true);
  }
  await gram.dispose();
  await checkpoint(ctx);
  progress('Curvature: top Hessian eigenvalue', 0.97);
  const curvature = options.curvatureIterations > 0 && !memory.curvature
    ? { hessianMaxEigenvalue: null, maxStableLearningRate: null, maxStableLearningRateMomentum: null, momentum: options.momentum, reason: `skipped to stay within the memory budget of ${budgetMB} MB (raise it with --memory-budget or gradientDoctor.memoryBudgetMB)` }
    : options.curvatureIterations > 0
    ? await estimateCurvature(curvatureModel.model, curvatureModel.order, opset, prepared.samples[0], trainable, outName, { ...options, loss: resolved?.kind ?? 'sum', lossReduction: resolved?.reduction }, createRunner, ctx).catch((e: unknown) => {
      if (isDoctorError(e) && e.kind === 'cancelled') throw e;
      return { hessianMaxEigenvalue: null, maxStableLearningRate: null, maxStableLearningRateMomentum: null, momentum: options.momentum, reason: errorMessage(e) };
    })
    : { hessianMaxEigenvalue: null, maxStableLearningRate: null, maxStableLearningRateMomentum: null, momentum: options.momentum, reason: 'skipped (curvature iterations set to 0)' };
  return reportAt(undefined, curvature);
}

/** Layers whose Jacobian has at most this many entries get their exact figures before the first answer. */
const FIRST_LOOK_EXACT_ENTRIES = 65_536;

/** The number of entries of a span's Jacobian. */
function entriesOf(span: { sources: string[]; targets: string[] }, shapeOf: (t: string) => number[]): number {
  const size = (names: string[]) => names.reduce((s, t) => s + shapeOf(t).reduce((a, b) => a * b, 1), 0);
  return size(span.sources) * size(span.targets);
}

/** A not-yet-computed figure's reason in a report made while the analysis refines. */
const REFINING = 'not computed yet (the analysis is refining)';
/** The shortest time between two refinements reported while the analysis runs. */
export const PARTIAL_INTERVAL_MS = 1000;
/** Offsets of the seeds of the loss's pseudo-labels and of the first look, apart from the probes' stream. */
const LOSS_STREAM = 104_729;
const FIRST_LOOK_STREAM = 15_485_863;

/** Everything a report is made of, complete or (while the analysis refines) so far. */
interface ReportState {
  source: AnalysisSource;
  model: Model;
  opset: number;
  summary: ReturnType<typeof summarizeModel>;
  layers: Layer[];
  parameters: ParameterReport[];
  prepared: PreparedSamples;
  options: AnalyzeOptions;
  executionProvider: { requested: ExecutionProviderPreference; used: string; fallbackReason?: string };
  resolved: Loss | undefined;
  runsTotal: number;
  productFlops: number;
  estimatedOps: Set<string>;
  flat: Awaited<ReturnType<typeof flattenForAnalysis>>;
  batchNorm?: BatchNormOutcome;
  nonFinite: AnalysisReport['nonFinite'];
  numerics: NumericsTracker;
  saturation: SaturationTracker;
  throughTime: Array<Array<{ node: string; norms: number[] }>>;
  recurrent: NonNullable<AnalysisReport['run']['recurrent']>;
  results: SampleResult[];
  curvature: AnalysisReport['curvature'];
  t0: number;
  /** Set while the analysis refines: the report holds what is done so far. */
  phase?: 'first-answer' | 'refining';
  firstAnswerMs?: number;
  memory: MemoryPlan;
}

/** The report of the figures in `st`, diagnosed; a partial one (`st.phase`) says so in run.phase. */
function buildReport(st: ReportState, versions: { ort: string; tool: string }): AnalysisReport {
  const { model, layers, parameters, prepared, options, resolved, results } = st;
  const layerReports = layers.map((l, i) => layerReport(l, results.map((r) => r.jacobians[i] ?? r.firstLook?.[i] ?? new Error(REFINING)), results.map((r) => r.gradients), st.saturation.result(l), st.phase !== undefined && results.some((r) => r.jacobians[i] === undefined)));
  fillGradients(parameters, results);
  for (const l of layerReports) {
    const nodeName = l.nodes[0];
    const series = st.throughTime.map((per) => per.find((u) => u.node === nodeName)?.norms).filter((x): x is number[] => x !== undefined);
    if (series.length > 0) {
      l.throughTime = { hiddenGradNorms: series[0].map((_, t) => median(series.map((x) => x[t])) ?? 0), method: 'unrolled: dL/dh_t for t = 1..T at the first sample\'s length, median over samples' };
    }
  }
  let running = 0;
  const logs: number[] = [];
  for (const l of layerReports) {
    if (l.jacobian.rmsGain !== null && l.jacobian.rmsGain > 0) {
      running += Math.log(l.jacobian.rmsGain);
      logs.push(Math.log(l.jacobian.rmsGain));
      l.lyapunovRunningSum = running;
    }
  }
  const e2e = results.map((r) => r.endToEnd);
  const e2eOk = e2e.filter((x): x is JacobianFigures => !(x instanceof Error));
  const pendingE2e = e2eOk.length === 0 && e2e[0] instanceof Error && e2e[0].message === REFINING;
  const report: AnalysisReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    schemaMinor: REPORT_SCHEMA_MINOR,
    tool: { name: 'gradient-doctor', version: versions.tool },
    model: {
      path: st.source.path, sha256: st.source.sha256, opset: st.opset, irVersion: model.irVersion, producer: st.summary.producer,
      inputs: st.summary.inputs, outputs: st.summary.outputs, parameterCount: st.summary.parameterCount,
    },
    run: {
      executionProvider: st.executionProvider.used,
      executionProviderRequested: st.executionProvider.requested,
      executionProviderNote: st.executionProvider.fallbackReason,
      ortVersion: versions.ort,
      samples: prepared.samples.length,
      sampleSource: prepared.source,
      sampleInputs: prepared.recipes,
      seed: options.samples.seed,
      loss: resolved?.kind ?? (options.loss === 'auto' ? 'sum' : options.loss),
      lossReduction: resolved?.reduction ?? options.lossReduction ?? 'mean',
      lossNote: resolved?.note,
      lossValue: median(results.map((r) => r.lossValue)),
      labels: resolved?.kind === 'ce' || resolved?.kind === 'nll' ? (options.labels ? 'given' : 'pseudo-labels drawn uniformly with the seed') : undefined,
      granularity: options.granularity,
      durationMs: performance.now() - st.t0,
      firstAnswerMs: st.firstAnswerMs,
      memory: { budgetMB: st.memory.budgetMB, estimateMB: st.memory.estimateMB, lowered: st.memory.lowered.length ? st.memory.lowered : undefined },
      phase: st.phase,
      derivativeRuns: st.runsTotal,
      productGflops: st.productFlops / 1e9,
      exactMaxDim: EXACT_MAX_DIM,
      finiteDifferenceSlopes: st.estimatedOps.size ? [...st.estimatedOps] : undefined,
      recurrent: st.recurrent.length ? st.recurrent : undefined,
      batchNorm: st.batchNorm,
      controlFlow: st.flat.controlFlow.length ? st.flat.controlFlow.map(({ node, opType, how, inlined }) => ({ node, opType, how, inlined })) : undefined,
    },
    layers: layerReports,
    parameters,
    endToEnd: {
      ...jacobianMedians(e2eOk),
      method: e2eOk[0]?.method ?? (pendingE2e ? 'pending' : 'failed'),
      kinds: e2eOk[0]?.kinds,
      errors: e2eOk[0]?.errors,
      rank: e2eOk[0]?.rank,
      lyapunovExponent: logs.length ? logs.reduce((a, b) => a + b, 0) / logs.length : null,
      reason: e2eOk.length === 0 && e2e[0] instanceof Error ? e2e[0].message : undefined,
    },
    curvature: st.curvature,
    nonFinite: st.nonFinite,
    numerics: st.numerics.result(),
    findings: [],
  };
  const { findings, verdict } = diagnose(report, model, options.diagnosis);
  report.findings = findings;
  report.verdict = verdict;
  return report;
}

function asError(e: unknown): Error {
  if (isDoctorError(e) && e.kind === 'cancelled') throw e;
  return e instanceof Error ? e : new Error(String(e));
}

async function probe(runner: DerivativeRunner, span: { sources: string[]; targets: string[] }, shapeOf: (t: string) => number[], rng: Rng, gram: GramFunction, exactMaxDim: number, limits: ProbeLimits, assembled?: Float64Array): Promise<JacobianFigures | Error> {
  try {
    return await probeJacobian(runner, span, shapeOf, rng, gram, exactMaxDim, limits, assembled);
  } catch (e) {
    return asError(e);
  }
}

function isFloat(t: DataType): boolean {
  return t === DataType.FLOAT || t === DataType.DOUBLE || t === DataType.FLOAT16;
}

/** BatchNormalization's running mean and variance are statistics, not trained by gradient. */
function isRunningStatistic(model: Model, name: string): boolean {
  return model.graph.nodes.some((n) => n.opType === 'BatchNormalization' && (n.inputs[3] === name || n.inputs[4] === name));
}

/** One reverse run: gradient norms at every layer boundary and every parameter. */
async function gradientNorms(runner: DerivativeRunner, sources: string[], out: string, gradient: Float64Array, layers: Layer[], aliases: string[]): Promise<Map<string, number>> {
  const boundaries = [...new Set([...layers.flatMap((l) => [...l.inputTensors, ...l.outputTensors]), ...aliases])].filter((t) => !sources.includes(t));
  const result = await runner.vjp({ sources, targets: [out] }, [[gradient]], boundaries);
  const norms = new Map<string, number>();
  [...sources, ...boundaries].forEach((name, i) => norms.set(name, norm(result[i][0])));
  norms.set(out, norm(gradient));
  return norms;
}

function layerReport(layer: Layer, jac: Array<JacobianFigures | Error>, grads: Array<Map<string, number> | Error>, saturation: LayerReport['saturation'], pending: boolean): LayerReport {
  const ok = jac.filter((j): j is JacobianFigures => !(j instanceof Error));
  const failed = jac.find((j): j is Error => j instanceof Error);
  const spread = (pick: (j: JacobianFigures) => number) => {
    const per = jac.map((j) => (j instanceof Error ? null : pick(j)));
    const vals = per.filter((x): x is number => x !== null);
    return { perSample: per, min: vals.length ? Math.min(...vals) : null, max: vals.length ? Math.max(...vals) : null };
  };
  const sigmaMin = median(ok.map((j) => j.sigmaMin));
  const noSigmaMin = ok.length > 0 && sigmaMin === null;
  const gradOk = grads.filter((g): g is Map<string, number> => !(g instanceof Error));
  const gradFailed = grads.find((g): g is Error => g instanceof Error);
  const boundary = (names: string[]) => median(gradOk.map((g) => Math.sqrt(names.reduce((s, n) => s + (g.get(n) ?? 0) ** 2, 0))));
  return {
    name: layer.name,
    index: layer.index,
    module: layer.module,
    opTypes: layer.opTypes,
    nodes: layer.nodes,
    inputTensors: layer.inputTensors,
    outputTensors: layer.outputTensors,
    parameters: layer.parameters,
    jacobian: ok.length === 0
      ? { sigmaMax: null, sigmaMin: null, rmsGain: null, conditionNumber: null, method: pending && failed?.message === REFINING ? 'pending' : 'failed', reason: failed?.message ?? 'not probed' }
      : {
        ...jacobianMedians(ok),
        method: ok[0].method,
        note: ok[0].note,
        rmsMethod: ok[0].rmsMethod,
        kinds: ok[0].kinds,
        errors: ok[0].errors,
        rank: ok[0].rank,
        spectrum: ok[0].spectrum,
        inputSize: ok[0].inputSize,
        outputSize: ok[0].outputSize,
        spread: { sigmaMax: spread((j) => j.sigmaMax), sigmaMin: spread((j) => j.sigmaMin), rmsGain: spread((j) => j.rmsGain) },
        ...(noSigmaMin ? { reason: 'sigma_min is not available for this layer (see note)' } : {}),
      },
    gradient: gradOk.length === 0
      ? { inputNorm: null, outputNorm: null, reason: gradFailed?.message ?? 'not computed' }
      : { inputNorm: boundary(layer.inputTensors), outputNorm: boundary(layer.outputTensors) },
    lyapunovRunningSum: null,
    saturation,
    durationMs: 0,
  };
}

/**
 * Medians over samples of a span's figures. The condition number is the median of the per-sample
 * ones; a singular Jacobian's is infinite, reported as null beside a rank below min(m, n).
 */
function jacobianMedians(ok: JacobianFigures[]) {
  const kappa = ok.map((j) => j.conditionNumber).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  const mid = kappa.length ? (kappa.length % 2 ? kappa[kappa.length >> 1] : (kappa[(kappa.length >> 1) - 1] + kappa[kappa.length >> 1]) / 2) : NaN;
  return {
    sigmaMax: median(ok.map((j) => j.sigmaMax)),
    sigmaMin: median(ok.map((j) => j.sigmaMin)),
    rmsGain: median(ok.map((j) => j.rmsGain)),
    conditionNumber: Number.isFinite(mid) ? mid : null,
  };
}

function fillGradients(parameters: ParameterReport[], results: SampleResult[]): void {
  for (const p of parameters) {
    const per = results.map((r) => (r.gradients instanceof Error ? null : r.gradients.get(p.name) ?? null));
    p.gradNorm = median(per);
    p.gradToWeightRatio = p.gradNorm !== null && p.norm !== null && p.norm > 0 ? p.gradNorm / p.norm : null;
    if (p.gradNorm === null) {
      const err = results.find((r) => r.gradients instanceof Error)?.gradients;
      if (err instanceof Error) p.reason = p.reason ? `${p.reason}; ${err.message}` : err.message;
    }
  }
}

/** Conv weights' operator norm: sigma_max of the convolution (no bias) at the sample's input size. */
async function convOperatorNorms(
  runner: DerivativeRunner,
  model: Model,
  parameters: ParameterReport[],
  shapeOf: (t: string) => number[],
  rng: Rng,
  probed: Map<string, JacobianFigures>,
): Promise<void> {
  const pending: Array<{ node: Model['graph']['nodes'][number]; p: ParameterReport }> = [];
  for (const node of model.graph.nodes) {
    if (node.opType !== 'Conv') continue;
    const p = parameters.find((q) => q.name === node.inputs[1]);
    if (!p) continue;
    circularSpectrum(model, node, p, shapeOf(node.inputs[0]));
    // a layer that is the convolution alone has measured this already (bias aside, which does not change the Jacobian)
    const layer = probed.get(`${node.inputs[0]} -> ${node.outputs[0]}`);
    if (layer) {
      p.spectralNorm = layer.sigmaMax;
      p.spectralNormMethod = layer.method === 'exact'
        ? `exact operator norm of the convolution (zero padding) at input ${JSON.stringify(shapeOf(node.inputs[0]))}, from its layer's assembled Jacobian`
        : `Lanczos operator norm of the convolution (zero padding) at input ${JSON.stringify(shapeOf(node.inputs[0]))}, from its layer's probe, ± ${layer.errors.sigmaMax.toExponential(1)}`;
      continue;
    }
    pending.push({ node, p });
  }
  const spanOf = (node: Model['graph']['nodes'][number]) => ({ sources: [node.inputs[0]], targets: [node.outputs[0]] });
  const record = (node: Model['graph']['nodes'][number], p: ParameterReport, r: { sigmaMax: number; error: number; steps: number }) => {
    p.spectralNorm = r.sigmaMax;
    p.spectralNormMethod = `Lanczos operator norm of the convolution (zero padding) at input ${JSON.stringify(shapeOf(node.inputs[0]))}, ${r.steps} steps, ± ${r.error.toExponential(1)}`;
  };
  // all of them in lockstep, one merged run a step; one at a time when they cannot be merged
  const state = rng.state();
  const together = pending.length > 1 ? await probeSigmaMaxMany(runner, pending.map((c) => spanOf(c.node)), shapeOf, rng).catch(asError) : new Error('one convolution');
  if (!(together instanceof Error)) {
    pending.forEach((c, i) => record(c.node, c.p, together[i]));
    return;
  }
  if (isDoctorError(together) && together.kind === 'cancelled') throw together;
  rng.restore(state);
  for (const { node, p } of pending) {
    try {
      record(node, p, await probeSigmaMax(runner, spanOf(node), shapeOf, rng));
    } catch (e) {
      p.reason = `operator norm not computed: ${asError(e).message}`;
    }
  }
}

/** The exact circular-padding spectrum of a stride-1, ungrouped 2-D convolution at the input size, when it is cheap enough. */
function circularSpectrum(model: Model, node: Model['graph']['nodes'][number], p: ParameterReport, input: number[]): void {
  const w = model.graph.initializers.get(node.inputs[1]);
  const strides = getAttribute(node, 'strides');
  const group = getAttribute(node, 'group');
  const dilations = getAttribute(node, 'dilations');
  const unit = (a: ReturnType<typeof getAttribute>) => !a || (a.type === 'ints' && a.value.every((v) => v === 1)) || (a.type === 'int' && a.value === 1);
  if (!w || w.dims.length !== 4 || input.length !== 4 || !unit(strides) || !unit(group) || !unit(dilations)) return;
  const [n1, n2] = input.slice(2);
  if (circularSpectrumFlops(w.dims, n1, n2) > CIRCULAR_SPECTRUM_MAX_FLOPS) return;
  const sv = circularConvSingularValues(tensorToFloat64(w), w.dims, n1, n2);
  p.circularSpectrum = {
    sigmaMax: sv[0],
    sigmaMin: sv[sv.length - 1],
    count: sv.length,
    method: `exact for circular padding and stride 1 at ${n1}x${n2} (Sedghi, Gupta and Long 2019); the model's own padding differs at the borders, so this approximates its operator`,
  };
}

function nonFiniteWeights(parameters: ParameterReport[], model: Model): AnalysisReport['nonFinite'] {
  const masks = new MaskFlow(model);
  return parameters
    .filter((p) => p.norm === null)
    .filter((p) => {
      // an exporter's Identity copy of a shared initializer (a causal mask, say) holds that initializer's values
      const t = model.graph.initializers.get(p.aliasOf ?? p.name);
      return !t || !masks.intended(p.name, tensorToFloat64(t));
    })
    .map((p) => ({ tensor: p.name, node: model.graph.nodes.find((n) => n.inputs.includes(p.name))?.name, where: 'weight' as const }));
}

/** The first node (in topological order) whose output holds NaN or Inf on the sample, intended masks aside. */
function nonFiniteActivations(forward: ForwardPass, order: number[]): AnalysisReport['nonFinite'] {
  const masks = new MaskFlow(forward.model);
  for (const i of order) {
    const node = forward.model.graph.nodes[i];
    for (const o of node.outputs) {
      const v = forward.values.get(o);
      if (!v || v.dtype === 'int64' || v.dtype === 'bool' || sizeOf(v.dims) === 0) continue;
      const x = toNumbers(v);
      if (!x.every(Number.isFinite) && !masks.intended(o, x)) return [{ tensor: o, node: node.name, where: 'activation' }];
    }
  }
  return [];
}

/**
 * Attention masks put -inf where a position must be ignored and add it to the scores before a
 * Softmax: that is intended (DOMAIN.md section 9) and not a finding. A tensor's -inf is intended
 * when it holds no NaN or +inf and every path from it reaches a Softmax through ops that carry a
 * mask unchanged (Add, Mul, Where, reshapes, casts, slices). A NaN made on the way (-inf * 0) is
 * caught at the tensor that holds it.
 */
class MaskFlow {
  private static readonly CARRY = new Set(['Add', 'Sub', 'Mul', 'Where', 'Reshape', 'Unsqueeze', 'Squeeze', 'Expand', 'Cast', 'Slice', 'Transpose', 'Identity', 'Concat', 'Gather', 'Tile']);
  private readonly consumers = new Map<string, Model['graph']['nodes']>();
  private readonly memo = new Map<string, boolean>();

  constructor(model: Model) {
    for (const n of model.graph.nodes) for (const i of n.inputs) if (i) this.consumers.set(i, [...(this.consumers.get(i) ?? []), n]);
  }

  intended(tensor: string, values: Float64Array): boolean {
    for (const v of values) if (Number.isNaN(v) || v === Infinity) return false;
    return this.reachesSoftmax(tensor);
  }

  private reachesSoftmax(tensor: string): boolean {
    const hit = this.memo.get(tensor);
    if (hit !== undefined) return hit;
    this.memo.set(tensor, false);
    const users = this.consumers.get(tensor) ?? [];
    const ok = users.length > 0 && users.every((n) => n.opType === 'Softmax' || n.opType === 'LogSoftmax'
      || (MaskFlow.CARRY.has(n.opType) && n.outputs.every((o) => this.reachesSoftmax(o))));
    this.memo.set(tensor, ok);
    return ok;
  }
}

import { spanNodes } from '../autodiff/derivative';
import { DerivativeRunner, ForwardPass } from '../autodiff/probe';
import { DoctorError, errorMessage, isDoctorError } from '../errors';
import { validateGraph } from '../onnx/validate';
import { createExactHvp } from './hvp';
import type { Sample } from '../inputs/synthesize';
import type { NdArray } from '../ndarray';
import { Rng } from '../inputs/rng';
import { tensorToFloat64 } from '../onnx/tensorData';
import { DataType, type Model, type Tensor } from '../onnx/types';
import type { RunnerFactory } from '../ports';
import { checkpoint, type WorkContext } from '../progress';
import type { AnalysisReport } from '../report/types';
import type { AnalyzeOptions } from './analyze';
import { tridiagonalEigen } from '../linalg/tridiagonalEigen';
import { lossGradient, resolvedLoss } from './gradientFlow';

/**
 * Step of the Hessian-vector differences, relative to ||theta||. Each coordinate moves by about
 * this times the rms parameter (the perturbation direction is a unit vector over all parameters),
 * near the cube root of float32's epsilon per coordinate once spread (DOMAIN.md section 4); checked
 * against PyTorch's exact Hessian-vector products on the MLP fixtures.
 */
export const HVP_RELATIVE_STEP = 2e-4;

/**
 * Exporters deduplicate equal initializers (zero biases, say) and re-create the copies as Identity
 * nodes. They were separate parameters in training, so the Hessian is taken over each copy:
 * every such Identity becomes an initializer of its own, a copy of the shared one.
 */
function untieAliases(model: Model, params: string[]): { model: Model; order: number[]; params: string[] } {
  const tied = new Set(params);
  const initializers = new Map(model.graph.initializers);
  const untied: string[] = [];
  const nodes = model.graph.nodes.filter((n) => {
    const source = n.opType === 'Identity' && tied.has(n.inputs[0]) ? model.graph.initializers.get(n.inputs[0]) : undefined;
    if (!source || !n.outputs[0]) return true;
    initializers.set(n.outputs[0], { ...source, name: n.outputs[0] });
    untied.push(n.outputs[0]);
    return false;
  });
  if (untied.length === 0) return { model, order: validateGraph(model.graph), params };
  const graph = { ...model.graph, nodes, initializers };
  return { model: { ...model, graph }, order: validateGraph(graph), params: [...params, ...untied] };
}

/** Ops whose derivative jumps (kinks): finite-difference Hessian products are unreliable through them. */
const NON_SMOOTH = new Set(['Relu', 'LeakyRelu', 'MaxPool', 'Clip', 'HardSigmoid', 'HardSwish', 'Abs', 'PRelu', 'Elu']);

/**
 * The largest eigenvalue of the loss Hessian in the parameters, by Lanczos on Hessian-vector
 * products taken as central differences of two gradients (DOMAIN.md section 8), and from it the
 * largest stable learning rates: 2 / lambda for SGD and 2 (1 + beta) / lambda with heavy-ball
 * momentum beta. The error bar is the Lanczos residual bound.
 */
export async function estimateCurvature(
  model: Model,
  order: number[],
  opset: number,
  sample: Sample,
  params: string[],
  outName: string,
  options: AnalyzeOptions,
  createRunner: RunnerFactory,
  ctx?: WorkContext,
): Promise<AnalysisReport['curvature']> {
  if (params.length === 0) throw new DoctorError('unsupported', 'the model has no float parameters');
  ({ model, order, params } = untieAliases(model, params));
  // Differences of gradients are only meaningful where the gradient is smooth: across a ReLU kink
  // the gradient jumps, and a difference quotient then measures the jump, not the curvature.
  const kinks = [...new Set(spanNodes(model.graph, order, { sources: params, targets: [outName] }).filter((n) => NON_SMOOTH.has(n.opType)).map((n) => n.opType))];
  // the parameters as fed: their own bytes where those are float32 or float64, read by reference
  const theta = parameterFeeds(model, params);
  const total = params.reduce((s, p) => s + theta[p].data.length, 0);
  const h = HVP_RELATIVE_STEP * Math.max(Math.sqrt(params.reduce((s, p) => s + squaredNorm(theta[p].data as FloatVector), 0)), 1e-3);

  // One forward session and one reverse session for every evaluation: the parameters become graph
  // inputs fed with the perturbed values (onnxruntime does not let a fed input override an
  // initializer of the same name, so the initializers are removed).
  const initializers = new Map(model.graph.initializers);
  for (const p of params) initializers.delete(p);
  const paramModel: Model = {
    ...model,
    graph: {
      ...model.graph,
      initializers,
      inputs: [...model.graph.inputs, ...params.map((p) => ({ name: p, type: { kind: 'tensor' as const, elemType: model.graph.initializers.get(p)?.dataType ?? DataType.FLOAT, shape: model.graph.initializers.get(p)?.dims } }))],
    },
  };
  // Exact Hessian-vector products (forward-over-reverse) where every op of the reverse graph has a
  // forward rule; otherwise central differences of gradients, which need a smooth loss.
  let exactFailure: string;
  try {
    const exact = await createExactHvp(paramModel, order, sample, theta, params, outName, options, createRunner);
    try {
      return await lanczosTop(total, exact.hvp, undefined, options, ctx, 'exact Hessian-vector products (forward-over-reverse autodiff); error bar = Lanczos residual');
    } finally {
      await exact.dispose();
    }
  } catch (e) {
    if (isDoctorError(e) && e.kind === 'cancelled') throw e;
    exactFailure = errorMessage(e);
  }
  if (kinks.length > 0) {
    throw new DoctorError('unsupported', `the loss is piecewise smooth in the parameters (${kinks.join(', ')}), so finite differences of gradients across the kinks do not measure curvature, and exact Hessian products are not available here (${exactFailure})`);
  }
  const names = paramModel.graph.nodes.flatMap((n) => n.outputs).filter((o) => o.length > 0);
  const forwardRunner = await createRunner(paramModel, { executionProvider: options.executionProvider, extraOutputs: names });
  let derivatives: DerivativeRunner | undefined;
  // the point theta + step v, written into buffers allocated once (the parameters' own types)
  const point: Record<string, NdArray> = {};
  for (const p of params) {
    const t = theta[p];
    point[p] = t.dtype === 'float64' ? { dtype: 'float64', dims: t.dims, data: new Float64Array(t.data.length) } : { dtype: 'float32', dims: t.dims, data: new Float32Array(t.data.length) };
  }
  /** The loss gradient at theta + step v, one array per parameter. */
  const gradientAt = async (v: Float32Array, step: number): Promise<Float64Array[]> => {
    let off = 0;
    for (const p of params) {
      const base = theta[p].data as FloatVector;
      const x = point[p].data as FloatVector;
      for (let i = 0; i < x.length; i++) x[i] = base[i] + step * v[off + i];
      off += x.length;
    }
    const feeds: Record<string, NdArray> = { ...sample, ...point };
    const out = await forwardRunner.run(feeds);
    const forward = new ForwardPass(paramModel, new Map([...Object.entries(feeds), ...Object.entries(out)]));
    // A derivative model bakes in the finite-difference slopes of ops without a rule, taken at the
    // point it was built at: moving it to another point would keep the old slopes and drop every
    // second-derivative term through those ops. Such a model is rebuilt at each point.
    if (derivatives && derivatives.estimated.size > 0) {
      await derivatives.dispose();
      derivatives = undefined;
    }
    if (!derivatives) derivatives = new DerivativeRunner(forward, order, opset, createRunner, options.executionProvider, new Set(params));
    else derivatives.setForward(forward);
    const y = forward.values.get(outName);
    if (!y) throw new DoctorError('runtime', `no value for output '${outName}'`);
    // the same seed each time: 'ce' pseudo-labels must not change between the two gradients
    const loss = lossGradient(resolvedLoss(options), y, new Rng(options.samples.seed), options.labels);
    const g = await derivatives.vjp({ sources: params, targets: [outName] }, [[loss.gradient]]);
    return g.map((x) => x[0]);
  };
  const fdHvp = async (v: Float32Array, out: Float32Array) => {
    let off = 0;
    for (const part of await gradientAt(v, h)) {
      out.set(part, off);
      off += part.length;
    }
    off = 0;
    for (const part of await gradientAt(v, -h)) {
      for (let i = 0; i < part.length; i++) out[off + i] = (out[off + i] - part[i]) / (2 * h);
      off += part.length;
    }
  };
  // Richardson: the Rayleigh quotient at the Ritz vector y with steps h and 2h differ by about 3x the step-h error
  const truncation = async (y: Float32Array) => {
    const along = async (step: number) => {
      let s = 0;
      let off = 0;
      for (const part of await gradientAt(y, step)) {
        for (let i = 0; i < part.length; i++) s += part[i] * y[off + i];
        off += part.length;
      }
      return s;
    };
    const quotient = async (step: number) => ((await along(step)) - (await along(-step))) / (2 * step);
    return Math.abs((await quotient(h)) - (await quotient(2 * h))) / 3;
  };
  try {
    return await lanczosTop(total, fdHvp, truncation, options, ctx,
      `central-difference Hessian-vector products, step ${h.toExponential(2)} (exact products unavailable: ${exactFailure}); error bar = Lanczos residual + Richardson estimate of the difference error`);
  } finally {
    await derivatives?.dispose();
    await forwardRunner.dispose();
  }
}

/** The relative Lanczos residual under which lambda_max is reported as an estimate with that error bar rather than a lower bound. */
const ESTIMATE_RESIDUAL = 0.05;

/**
 * Lanczos stops once the top Ritz value's residual is within this fraction of it: the eigenvalue
 * is then within 1% (|lambda - theta| <= residual), finer than a learning-rate bound is read, and
 * resnet50@64 gets there in 13 Hessian products instead of 16 at 1e-3 (lambda_max moved by 2e-4).
 */
const CURVATURE_TOL = 1e-2;

async function lanczosTop(
  total: number,
  hvp: (v: Float32Array, out: Float32Array) => Promise<void>,
  truncation: ((ritzVector: Float32Array) => Promise<number>) | undefined,
  options: AnalyzeOptions,
  ctx: WorkContext | undefined,
  how: string,
): Promise<AnalysisReport['curvature']> {
  // Symmetric Lanczos on v -> H v: the largest Ritz value of the tridiagonal T converges to
  // lambda_max(H) far faster than power iteration, from the top. Only the top end is wanted, so
  // the three-term recurrence with local reorthogonalisation (against the last two vectors) does:
  // lost global orthogonality only adds copies of converged Ritz values (Paige), never moves the
  // top one, and its residual bound still holds to working precision. The vectors are float32, as
  // the products are (onnxruntime computes them in the model's float32): their dot products and
  // norms, and so T's entries, accumulate in float64. Memory is three vectors of the parameters'
  // size, reused; the basis is kept only when the Ritz vector is needed (the finite-difference error estimate).
  const rng = new Rng(options.samples.seed + 17);
  const steps = Math.min(options.curvatureIterations, total);
  const basis: Float32Array[] | undefined = truncation ? [] : undefined;
  const alpha: number[] = [];
  const beta: number[] = [];
  // a random start with every sign equally likely (a Rademacher vector, normalised): as good a
  // start as a Gaussian one, at a fraction of its cost over millions of parameters
  let q: Float32Array = new Float32Array(total);
  const unit = 1 / Math.sqrt(total);
  for (let i = 0; i < total; i++) q[i] = rng.uniform() < 0.5 ? -unit : unit;
  let previous: Float32Array | undefined;
  let spare: Float32Array | undefined;
  let best: { lambda: number; residual: number; vector: Float64Array } = { lambda: 0, residual: Infinity, vector: new Float64Array(0) };
  let converged = false;
  for (let it = 0; it < steps; it++) {
    await checkpoint(ctx);
    ctx?.onProgress?.({ message: `Curvature: Lanczos step ${it + 1}/${steps}`, fraction: 0.97 + (0.03 * it) / steps });
    basis?.push(q);
    const w = spare ?? new Float32Array(total);
    spare = undefined;
    await hvp(q, w);
    // the three-term recurrence w -= alpha q + beta q_prev, as Gram-Schmidt against the two (the
    // same coefficients in exact arithmetic), then w /= its norm. Against orthonormal q and q_prev
    // the norm left is ||w||^2 - (w.q)^2 - (w.q_prev)^2, so one pass gives the coefficients and
    // the norm and a second one applies both; when the subtraction cancels much of w, it is done
    // for real first and repeated on what is left ("twice is enough"), as the new dots say.
    const [wq, wp, ww] = project(w, q, previous);
    alpha.push(wq);
    let [c, d, rest] = [wq, wp, ww - wq * wq - wp * wp];
    if (rest <= KEEP * KEEP * ww) {
      const [rq, rp, rr] = subtract(w, wq, q, wp, previous);
      [c, d, rest] = [rq, rp, rr - rq * rq - rp * rp];
    }
    const bNext = Math.sqrt(Math.max(rest, 0));
    best = topRitz(alpha, beta, bNext);
    converged = bNext === 0 || best.residual <= CURVATURE_TOL * Math.abs(best.lambda);
    if (converged) break;
    beta.push(bNext);
    subtractAndScale(w, c, q, d, previous, 1 / bNext);
    // the vector two steps back is done with, unless the basis keeps it
    if (!basis) spare = previous;
    previous = q;
    q = w;
  }
  const lambda = best.lambda;
  let truncationError = 0;
  if (truncation && basis) truncationError = await truncation(combination(basis, best.vector, total));
  if (!Number.isFinite(lambda) || !Number.isFinite(best.residual)) {
    throw new DoctorError('runtime', 'the Hessian-vector products are not finite (NaN or Inf in the weights or activations)');
  }
  const stable = lambda > 0;
  // the top Ritz value of exact products is a Rayleigh quotient, at most lambda_max, with an
  // eigenvalue within its residual: an estimate once the residual is small enough to be an error
  // bar (ESTIMATE_RESIDUAL), a lower bound before (finite-difference products are estimates throughout)
  const lambdaKind = truncation || converged || best.residual <= ESTIMATE_RESIDUAL * Math.abs(lambda) ? 'estimate' : 'lower-bound';
  const rateKind = lambdaKind === 'lower-bound' ? 'upper-bound' : 'estimate';
  return {
    hessianMaxEigenvalue: lambda,
    maxStableLearningRate: stable ? 2 / lambda : null,
    maxStableLearningRateMomentum: stable ? (2 * (1 + options.momentum)) / lambda : null,
    momentum: options.momentum,
    kinds: { hessianMaxEigenvalue: lambdaKind, maxStableLearningRate: rateKind, maxStableLearningRateMomentum: rateKind },
    method: `Lanczos (${alpha.length} steps) on ${how}`,
    error: best.residual + truncationError,
    reason: stable ? undefined : 'the largest curvature is not positive: no learning-rate bound follows',
  };
}

/** The largest eigenvalue of the Lanczos tridiagonal, its residual bound beta_k |last eigenvector component|, and its eigenvector. */
function topRitz(alpha: number[], beta: number[], betaNext: number): { lambda: number; residual: number; vector: Float64Array } {
  const k = alpha.length;
  const { values, vectors } = tridiagonalEigen(alpha, beta);
  return { lambda: values[0], residual: Math.abs(betaNext * vectors[(k - 1) * k]), vector: Float64Array.from({ length: k }, (_, i) => vectors[i * k]) };
}

/** sum_i c_i basis_i, accumulated in float64 element by element. */
function combination(basis: Float32Array[], c: Float64Array, total: number): Float32Array {
  const y = new Float32Array(total);
  for (let e = 0; e < total; e++) {
    let s = 0;
    for (let i = 0; i < c.length; i++) s += c[i] * basis[i][e];
    y[e] = s;
  }
  return y;
}

/**
 * Each parameter's values as a feed of its own type: a view of the initializer's bytes when they
 * are float32 or float64 and aligned (nothing copied), a copy when unaligned, and float32 values
 * for other float types.
 */
function parameterFeeds(model: Model, params: string[]): Record<string, NdArray> {
  const feeds: Record<string, NdArray> = {};
  for (const p of params) {
    const t = model.graph.initializers.get(p) as Tensor;
    const n = t.dims.reduce((a, b) => a * b, 1);
    const width = t.dataType === DataType.FLOAT ? 4 : t.dataType === DataType.DOUBLE ? 8 : 0;
    const raw = t.raw;
    if (width > 0 && raw && raw.byteLength === n * width) {
      const bytes = raw.byteOffset % width === 0 ? raw : new Uint8Array(raw);
      feeds[p] = width === 4
        ? { dtype: 'float32', dims: t.dims, data: new Float32Array(bytes.buffer, bytes.byteOffset, n) }
        : { dtype: 'float64', dims: t.dims, data: new Float64Array(bytes.buffer, bytes.byteOffset, n) };
    } else {
      feeds[p] = { dtype: 'float32', dims: t.dims, data: Float32Array.from(tensorToFloat64(t)) };
    }
  }
  return feeds;
}

/** A vector of float32 or float64 values. */
type FloatVector = Float32Array | Float64Array;

function squaredNorm(v: FloatVector): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return s;
}

/** Kahan-Parlett/DGKS: a Gram-Schmidt pass that keeps more than this fraction of the norm left the vector orthogonal to working precision. */
const KEEP = Math.SQRT1_2;

/** [w.q, w.p, w.w] in one pass over the vectors, summed in float64 (w.p = 0 without p). */
function project(w: Float32Array, q: Float32Array, p: Float32Array | undefined): [number, number, number] {
  let wq = 0;
  let wp = 0;
  let ww = 0;
  if (p) {
    for (let i = 0; i < w.length; i++) {
      const x = w[i];
      wq += x * q[i];
      wp += x * p[i];
      ww += x * x;
    }
  } else {
    for (let i = 0; i < w.length; i++) {
      const x = w[i];
      wq += x * q[i];
      ww += x * x;
    }
  }
  return [wq, wp, ww];
}

/** w = (w - a q - b p) s, in one pass. */
function subtractAndScale(w: Float32Array, a: number, q: Float32Array, b: number, p: Float32Array | undefined, s: number): void {
  if (p) {
    for (let i = 0; i < w.length; i++) w[i] = (w[i] - a * q[i] - b * p[i]) * s;
  } else {
    for (let i = 0; i < w.length; i++) w[i] = (w[i] - a * q[i]) * s;
  }
}

/** w -= a q + b p, and the new [w.q, w.p, w.w], in one pass (the classical Gram-Schmidt step against q and p). */
function subtract(w: Float32Array, a: number, q: Float32Array, b: number, p: Float32Array | undefined): [number, number, number] {
  let wq = 0;
  let wp = 0;
  let ww = 0;
  if (p) {
    for (let i = 0; i < w.length; i++) {
      // the float32 value stored, as the next pass reads it
      const y = Math.fround(w[i] - a * q[i] - b * p[i]);
      w[i] = y;
      wq += y * q[i];
      wp += y * p[i];
      ww += y * y;
    }
  } else {
    for (let i = 0; i < w.length; i++) {
      const y = Math.fround(w[i] - a * q[i]);
      w[i] = y;
      wq += y * q[i];
      ww += y * y;
    }
  }
  return [wq, wp, ww];
}

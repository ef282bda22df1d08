import { DerivativeRunner, ForwardPass } from '../autodiff/probe';
import { DoctorError } from '../errors';
import type { Sample } from '../inputs/synthesize';
import { Rng } from '../inputs/rng';
import { tensorToFloat64 } from '../onnx/tensorData';
import { DataType, type Model, type Tensor } from '../onnx/types';
import type { RunnerFactory } from '../ports';
import { checkpoint, type WorkContext } from '../progress';
import type { AnalysisReport } from '../report/types';
import type { AnalyzeOptions } from './analyze';
import { jacobiEigen } from '../linalg/jacobiEigen';
import { lossGradient, norm } from './gradientFlow';

/** Relative finite-difference step for Hessian-vector products: about the cube root of float32's epsilon (DOMAIN.md section 4). */
export const HVP_RELATIVE_STEP = 5e-3;

/** A copy of `model` whose listed initializers hold new values (the original model is not touched). */
export function withParameters(model: Model, values: Map<string, Float64Array>): Model {
  const initializers = new Map<string, Tensor>(model.graph.initializers);
  for (const [name, v] of values) {
    const t = model.graph.initializers.get(name);
    if (!t) continue;
    const data = t.dataType === DataType.DOUBLE ? Float64Array.from(v) : Float32Array.from(v);
    initializers.set(name, { ...t, dataType: t.dataType === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT, raw: new Uint8Array(data.buffer) });
  }
  return { ...model, graph: { ...model.graph, initializers } };
}

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
  const theta = new Map(params.map((p) => [p, tensorToFloat64(model.graph.initializers.get(p) as Tensor)]));
  const sizes = params.map((p) => theta.get(p)?.length ?? 0);
  const total = sizes.reduce((a, b) => a + b, 0);
  const flatTheta = concat(params.map((p) => theta.get(p) as Float64Array), total);
  const h = HVP_RELATIVE_STEP * Math.max(norm(flatTheta), 1e-3);

  const gradientAt = async (flat: Float64Array): Promise<Float64Array> => {
    const values = new Map<string, Float64Array>();
    let off = 0;
    params.forEach((p, i) => {
      values.set(p, flat.subarray(off, off + sizes[i]));
      off += sizes[i];
    });
    const m = withParameters(model, values);
    const forward = await ForwardPass.run(m, sample, createRunner, options.executionProvider);
    const runner = new DerivativeRunner(forward, order, opset, createRunner, options.executionProvider);
    try {
      const y = forward.values.get(outName);
      if (!y) throw new DoctorError('runtime', `no value for output '${outName}'`);
      // the same seed each time: 'ce' pseudo-labels must not change between the two gradients
      const loss = lossGradient(options.loss, y, new Rng(options.samples.seed), options.labels);
      const g = await runner.vjp({ sources: params, targets: [outName] }, [[loss.gradient]]);
      return concat(g.map((x) => x[0]), total);
    } finally {
      await runner.dispose();
    }
  };

  // Symmetric Lanczos with full reorthogonalisation on v -> H v: the largest Ritz value of the
  // tridiagonal T converges to lambda_max(H) far faster than power iteration, from the top.
  const rng = new Rng(options.samples.seed + 17);
  const steps = Math.min(options.curvatureIterations, total);
  const Q: Float64Array[] = [];
  const alpha: number[] = [];
  const beta: number[] = [];
  let q = Float64Array.from({ length: total }, () => rng.normal());
  scale(q, 1 / norm(q));
  let best = { lambda: 0, residual: Infinity };
  for (let it = 0; it < steps; it++) {
    await checkpoint(ctx);
    ctx?.onProgress?.({ message: `Curvature: Lanczos step ${it + 1}/${steps}`, fraction: 0.97 + (0.03 * it) / steps });
    Q.push(q);
    const plus = await gradientAt(Float64Array.from(flatTheta, (x, i) => x + h * q[i]));
    const minus = await gradientAt(Float64Array.from(flatTheta, (x, i) => x - h * q[i]));
    const w = Float64Array.from(plus, (x, i) => (x - minus[i]) / (2 * h));
    const a = w.reduce((s, x, i) => s + x * q[i], 0);
    alpha.push(a);
    for (let pass = 0; pass < 2; pass++) {
      for (const b of Q) {
        const d = w.reduce((s, x, i) => s + x * b[i], 0);
        for (let i = 0; i < total; i++) w[i] -= d * b[i];
      }
    }
    const bNext = norm(w);
    best = topRitz(alpha, beta, bNext);
    if (bNext === 0 || best.residual <= 1e-3 * Math.abs(best.lambda)) break;
    beta.push(bNext);
    q = Float64Array.from(w, (x) => x / bNext);
  }
  const lambda = best.lambda;
  if (!Number.isFinite(lambda) || !Number.isFinite(best.residual)) {
    throw new DoctorError('runtime', 'the Hessian-vector products are not finite (NaN or Inf in the weights or activations)');
  }
  const stable = lambda > 0;
  return {
    hessianMaxEigenvalue: lambda,
    maxStableLearningRate: stable ? 2 / lambda : null,
    maxStableLearningRateMomentum: stable ? (2 * (1 + options.momentum)) / lambda : null,
    momentum: options.momentum,
    method: `Lanczos (${alpha.length} steps) on central-difference Hessian-vector products, step ${h.toExponential(2)}`,
    error: best.residual,
    reason: stable ? undefined : 'the largest curvature is not positive: no learning-rate bound follows',
  };
}

/** The largest eigenvalue of the Lanczos tridiagonal and its residual bound beta_k |last eigenvector component|. */
function topRitz(alpha: number[], beta: number[], betaNext: number): { lambda: number; residual: number } {
  const k = alpha.length;
  const t = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    t[i * k + i] = alpha[i];
    if (i + 1 < k) {
      t[i * k + i + 1] = beta[i];
      t[(i + 1) * k + i] = beta[i];
    }
  }
  const { values, vectors } = jacobiEigen(t, k);
  return { lambda: values[0], residual: Math.abs(betaNext * vectors[(k - 1) * k]) };
}

function concat(parts: Float64Array[], total: number): Float64Array {
  const out = new Float64Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function scale(v: Float64Array, s: number): void {
  for (let i = 0; i < v.length; i++) v[i] *= s;
}

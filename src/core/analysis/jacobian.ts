import type { DerivativeRunner } from '../autodiff/probe';
import type { FiniteDifferenceRunner } from '../autodiff/finiteDifference';
import { UnsupportedDerivative } from '../autodiff/rule';
import { DoctorError } from '../errors';
import type { Span } from '../autodiff/derivative';
import type { Rng } from '../inputs/rng';
import { golubKahanLanczos, type LanczosResult, type LinearOperator } from '../linalg/lanczos';
import { gramMatrix, singularValuesFromGram } from '../linalg/svd';
import { sizeOf } from '../ndarray';
import type { FigureKind } from '../report/types';
import type { ProbeLimits } from './memory';

/** Layers with min(m, n) up to this get their Jacobian assembled and all singular values computed exactly... */
export const EXACT_MAX_DIM = 1024;
/**
 * ...and the end-to-end Jacobian up to this: each of its products runs the whole network, so
 * assembling a classifier's 1000 x 12288 one took 1000 of them where Lanczos, Gauss quadrature and
 * Hutchinson take under 90 (its sigma_min and kappa are then bounds, said so).
 */
export const END_TO_END_EXACT_MAX_DIM = 128;
/** ...when the assembled m x n Jacobian has at most this many entries (128 MiB in float64). */
export const EXACT_MAX_ENTRIES = 16 * 1024 * 1024;
/** Probe vectors times vector length per onnxruntime run, at most (bounds memory per run). */
const MAX_BATCH_ELEMENTS = 4_000_000;
/** The probes' memory limits by default; a memory budget lowers them (see planForBudget in memory.ts). */
export const DEFAULT_PROBE_LIMITS: ProbeLimits = { probeBatchElements: MAX_BATCH_ELEMENTS, exactMaxEntries: EXACT_MAX_ENTRIES };
/** Lanczos steps for layers above the exact threshold, and the relative residual at which it stops. */
export const LANCZOS_STEPS = 32;
export const LANCZOS_TOL = 1e-4;
/** Rademacher probes for the Hutchinson estimate of ||J||_F on the Lanczos path. */
export const HUTCHINSON_PROBES = 16;
/** Stochastic Lanczos quadrature for the spectral density on the Lanczos path: extra start vectors and their steps. */
export const SLQ_EXTRA_PROBES = 3;
export const SLQ_STEPS = 12;
/** Bins of the spectral density histogram (log-spaced between the smallest and largest value). */
export const DENSITY_BINS = 24;
/** float32 unit roundoff: the assembled Jacobian's entries carry errors of this relative size. */
const F32_EPS = 2 ** -24;

/** How a figure was computed. */
export type Method = 'exact' | 'lanczos' | 'hutchinson' | 'finite-difference';

/** The kind of each Jacobian figure (see {@link FigureKind}). */
export interface JacobianKinds {
  sigmaMax: FigureKind;
  sigmaMin: FigureKind;
  rmsGain: FigureKind;
  conditionNumber: FigureKind;
}

/** Numerical rank of an assembled Jacobian: singular values above its error bar, of min(m, n). */
export interface NumericalRank {
  value: number;
  of: number;
  /** Output units whose row of the Jacobian is exactly zero at this sample (a ReLU that is off, a clamp at its bound). */
  zeroRows: number;
  /** Inputs whose column is exactly zero: inputs the span does not read at this sample (a strided convolution skips pixels). */
  zeroColumns: number;
}

/** Jacobian figures of one span at one sample. */
export interface JacobianFigures {
  sigmaMax: number;
  sigmaMin: number;
  rmsGain: number;
  conditionNumber: number;
  method: 'exact' | 'lanczos' | 'finite-difference';
  /** What each figure is: exact, an estimate within its error bar, or a one-sided bound. */
  kinds: JacobianKinds;
  /** Error bars (absolute) of each figure; see the README for how they are derived. */
  errors: { sigmaMax: number; sigmaMin: number; rmsGain: number };
  /** The numerical rank, where the Jacobian was assembled. */
  rank?: NumericalRank;
  /** rmsGain method: exact from all singular values, or a Hutchinson estimate. */
  rmsMethod: 'exact' | 'hutchinson';
  /** n = input size, m = output size. */
  inputSize: number;
  outputSize: number;
  /** Singular values (exact: all; lanczos: Ritz values of every SLQ probe) with quadrature weights, and the density histogram. */
  spectrum?: Spectrum;
  /** Derivative-model runs made. */
  runs: number;
  /** Why an estimate was used, when the figures come from a fallback. */
  note?: string;
}

/** Largest singular value of the span's Jacobian alone, by Golub-Kahan-Lanczos, with its residual bound. */
export async function probeSigmaMax(runner: DerivativeRunner, span: Span, shapeOf: (t: string) => number[], rng: Rng): Promise<{ sigmaMax: number; error: number; steps: number }> {
  const { op } = operator(runner, span, shapeOf);
  const lz = await golubKahanLanczos(op, rng, LANCZOS_STEPS, LANCZOS_TOL, true);
  return { sigmaMax: lz.ritz[0], error: lz.residual[0], steps: lz.steps };
}

/**
 * sigma_max of several spans' Jacobians by Golub-Kahan-Lanczos run in lockstep: each step's
 * products of every span in one run of their merged derivative model (one session for the set
 * instead of two per span, and one run per step instead of one per span and step). The figures
 * are those of {@link probeSigmaMax} one span at a time, the start vectors drawn in the same order.
 * Throws when the spans cannot share a merged model (a span long enough to run as segments).
 */
export async function probeSigmaMaxMany(runner: DerivativeRunner, spans: Span[], shapeOf: (t: string) => number[], rng: Rng): Promise<Array<{ sigmaMax: number; error: number; steps: number }>> {
  const { ops, finish } = lockstepOperators(runner, spans, shapeOf);
  const runs = ops.map((op, i) => golubKahanLanczos(op, rng, LANCZOS_STEPS, LANCZOS_TOL, true).finally(() => finish(i)));
  const results = await Promise.all(runs);
  return results.map((lz) => ({ sigmaMax: lz.ritz[0], error: lz.residual[0], steps: lz.steps }));
}

/**
 * Linear operators of several spans whose products run together: a product waits until every
 * operator still in use has asked for one, then one merged run ({@link DerivativeRunner.manyProducts})
 * serves them all. A span with nothing to ask that round (its Lanczos done, or at the other
 * product) is fed zeros, so the merged session is made once for the whole set. `finish(i)` says
 * operator i asks for no more products.
 */
function lockstepOperators(runner: DerivativeRunner, spans: Span[], shapeOf: (t: string) => number[]): { ops: LinearOperator[]; finish: (i: number) => void } {
  type Request = { mode: 'jvp' | 'vjp'; span: number; vector: Float64Array; resolve: (v: Float64Array) => void; reject: (e: unknown) => void };
  const sizes = (names: string[]) => names.map((t) => sizeOf(shapeOf(t)));
  const inSizes = spans.map((sp) => sizes(sp.sources));
  const outSizes = spans.map((sp) => sizes(sp.targets));
  const total = (lengths: number[]) => lengths.reduce((a, b) => a + b, 0);
  const finished = new Set<number>();
  let pending: Request[] = [];
  const flush = async (batch: Request[]) => {
    for (const mode of ['jvp', 'vjp'] as const) {
      const asked = new Map(batch.filter((r) => r.mode === mode).map((r) => [r.span, r]));
      if (asked.size === 0) continue;
      try {
        const vectors = spans.map((_, i) => {
          const lengths = mode === 'jvp' ? inSizes[i] : outSizes[i];
          const r = asked.get(i);
          return r ? splitFlat(r.vector, lengths) : lengths.map((len) => [new Float64Array(len)]);
        });
        const out = await runner.manyProducts(mode, spans, vectors);
        for (const [i, r] of asked) r.resolve(joinFirst(out[i], total(mode === 'jvp' ? outSizes[i] : inSizes[i])));
      } catch (e) {
        for (const r of asked.values()) r.reject(e);
      }
    }
  };
  const maybeFlush = () => {
    if (pending.length === 0 || pending.length + finished.size < spans.length) return;
    const batch = pending;
    pending = [];
    void flush(batch);
  };
  const ask = (mode: 'jvp' | 'vjp', span: number, vector: Float64Array) => new Promise<Float64Array>((resolve, reject) => {
    pending.push({ mode, span, vector, resolve, reject });
    maybeFlush();
  });
  const ops: LinearOperator[] = spans.map((_, i) => ({
    n: total(inSizes[i]),
    m: total(outSizes[i]),
    matvec: (v: Float64Array) => ask('jvp', i, v),
    rmatvec: (u: Float64Array) => ask('vjp', i, u),
  }));
  return {
    ops,
    finish: (i) => {
      finished.add(i);
      maybeFlush();
    },
  };
}

/** A flat vector cut into parts of these lengths, each a batch of one (views, nothing copied). */
function splitFlat(flat: Float64Array, lengths: number[]): Float64Array[][] {
  let off = 0;
  return lengths.map((len) => [flat.subarray(off, (off += len))]);
}

/** The first vector of each part's batch, joined into one flat vector of `total` values. */
function joinFirst(parts: Float64Array[][], total: number): Float64Array {
  const out = new Float64Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p[0], off);
    off += p[0].length;
  }
  return out;
}

/** The span's Jacobian as a linear operator on flat vectors (sources and targets concatenated). */
function operator(runner: DerivativeRunner, span: Span, shapeOf: (t: string) => number[]) {
  const inSizes = span.sources.map((t) => sizeOf(shapeOf(t)));
  const outSizes = span.targets.map((t) => sizeOf(shapeOf(t)));
  const n = inSizes.reduce((a, b) => a + b, 0);
  const m = outSizes.reduce((a, b) => a + b, 0);
  const op = {
    n,
    m,
    matvec: async (v: Float64Array) => joinFirst(await runner.jvp(span, splitFlat(v, inSizes)), m),
    rmatvec: async (u: Float64Array) => joinFirst(await runner.vjp(span, splitFlat(u, outSizes)), n),
  };
  return { op, n, m };
}

/** Lanczos steps, relative residual and Hutchinson probes of the first answer's look at a layer (see {@link probeFirstLook}). */
export const FIRST_LOOK_STEPS = 6;
export const FIRST_LOOK_TOL = 1e-2;
export const FIRST_LOOK_PROBES = 8;

/**
 * The first answer's look at a span's Jacobian, before the full probe refines it: sigma_max from a
 * few Golub-Kahan-Lanczos steps (an estimate once its residual is within FIRST_LOOK_TOL, a lower
 * bound otherwise: a Ritz value never exceeds sigma_max) and the rms gain from Hutchinson over
 * FIRST_LOOK_PROBES probes (an estimate with its standard error). sigma_min and the condition
 * number are left to the full probe (NaN here, reported as not yet computed). The products run on
 * the runner's cached sessions, which the full probe then reuses.
 */
export async function probeFirstLook(runner: DerivativeRunner, span: Span, shapeOf: (t: string) => number[], rng: Rng): Promise<JacobianFigures> {
  const { op, n, m } = operator(runner, span, shapeOf);
  const runs0 = runner.runs;
  const side = n <= m ? op : { n: m, m: n, matvec: op.rmatvec, rmatvec: op.matvec };
  const lz = await golubKahanLanczos(side, rng, FIRST_LOOK_STEPS, FIRST_LOOK_TOL, true);
  const { mean, stderr } = await hutchinson(runner, span, shapeOf, rng, FIRST_LOOK_PROBES);
  return firstLookFigures(lz, mean, stderr, n, m, runner.runs - runs0);
}

/**
 * {@link probeFirstLook} of many spans at once: their Lanczos steps in lockstep (one merged run of
 * the chunk's derivative models a step, as {@link probeSigmaMaxMany}) and their Hutchinson probes in
 * one merged run, so that a model of n layers costs a few sessions and about 2 FIRST_LOOK_STEPS + 1
 * runs per chunk instead of two sessions and as many runs per layer. Chunks hold spans whose
 * vectors together fit the probe batch. A span that cannot join a merged model (one that runs as
 * segments), or a chunk whose merged model fails, is looked at alone.
 */
export async function probeFirstLookMany(runner: DerivativeRunner, spans: Span[], shapeOf: (t: string) => number[], rng: Rng, limits: ProbeLimits): Promise<Array<JacobianFigures | Error>> {
  const out: Array<JacobianFigures | Error | undefined> = spans.map(() => undefined);
  const size = (names: string[]) => names.reduce((s, t) => s + sizeOf(shapeOf(t)), 0);
  const room = limits.probeBatchElements / FIRST_LOOK_PROBES;
  const chunks: number[][] = [];
  let chunk: number[] = [];
  let used = 0;
  for (const [i, span] of spans.entries()) {
    const elements = size(span.sources) + size(span.targets);
    if (!runner.canMerge(span) || elements > room) continue;
    if (used + elements > room && chunk.length > 0) {
      chunks.push(chunk);
      chunk = [];
      used = 0;
    }
    chunk.push(i);
    used += elements;
  }
  if (chunk.length > 0) chunks.push(chunk);
  for (const members of chunks.filter((c) => c.length > 1)) {
    const chosen = members.map((i) => spans[i]);
    const state = rng.state();
    try {
      const runs0 = runner.runs;
      const { ops, finish } = lockstepOperators(runner, chosen, shapeOf);
      const looks = await Promise.all(ops.map((op, i) => golubKahanLanczos(op, rng, FIRST_LOOK_STEPS, FIRST_LOOK_TOL, true).finally(() => finish(i))));
      const vectors = chosen.map((span) => span.sources.map((t) => rademacherBatch(sizeOf(shapeOf(t)), FIRST_LOOK_PROBES, rng)));
      const images = await runner.manyProducts('jvp', chosen, vectors);
      const runs = runner.runs - runs0;
      members.forEach((at, i) => {
        const { mean, stderr } = squaredNormStats(images[i], FIRST_LOOK_PROBES);
        out[at] = asFigures(() => firstLookFigures(looks[i], mean, stderr, ops[i].n, ops[i].m, runs, members.length));
      });
    } catch (e) {
      if (e instanceof DoctorError && e.kind === 'cancelled') throw e;
      rng.restore(state);
    }
  }
  for (const [i, span] of spans.entries()) {
    if (out[i] === undefined) out[i] = await probeFirstLook(runner, span, shapeOf, rng).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  }
  return out as Array<JacobianFigures | Error>;
}

function asFigures(make: () => JacobianFigures): JacobianFigures | Error {
  try {
    return make();
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/** The first look's figures from its Lanczos run and Hutchinson mean; `sharedBy` spans shared its `runs` (merged runs). */
function firstLookFigures(lz: LanczosResult, mean: number, stderr: number, n: number, m: number, runs: number, sharedBy = 1): JacobianFigures {
  if (!lz.ritz.every(Number.isFinite) || !Number.isFinite(mean)) throw nonFinite();
  const k = Math.min(m, n);
  const rms = Math.sqrt(Math.max(mean, 0) / k);
  const complete = lz.steps >= k;
  const shared = sharedBy > 1 ? ` (in ${runs} merged runs shared by ${sharedBy} layers)` : '';
  return {
    sigmaMax: lz.ritz[0],
    sigmaMin: NaN,
    rmsGain: rms,
    conditionNumber: NaN,
    method: 'lanczos',
    rmsMethod: 'hutchinson',
    kinds: { sigmaMax: complete ? 'exact' : lz.converged ? 'estimate' : 'lower-bound', sigmaMin: 'estimate', rmsGain: 'estimate', conditionNumber: 'estimate' },
    errors: { sigmaMax: lz.residual[0], sigmaMin: 0, rmsGain: mean > 0 ? (rms * stderr) / (2 * mean) : 0 },
    inputSize: n,
    outputSize: m,
    runs,
    note: `first answer: ${lz.steps} Lanczos steps and ${FIRST_LOOK_PROBES} Hutchinson probes${shared}; sigma_min and the condition number come with the full probe`,
  };
}

/** Computes the Gram matrix of the smaller side of an m x n matrix (in float64): onnxruntime's MatMul, or JS. */
export type GramFunction = (a: Float64Array, m: number, n: number) => Promise<Float64Array>;

/** The JavaScript Gram matrix, for when no faster one is injected. */
export const jsGram: GramFunction = async (a, m, n) => gramMatrix(a, m, n);

/** A spectrum and its density (mass per log-spaced bin, with a standard error across SLQ probes). */
export interface Spectrum {
  values: number[];
  weights: number[];
  kind: 'exact' | 'ritz';
  density: { edges: number[]; mass: number[]; stderr: number[]; probes: number };
}

/** Histogram of the quadrature (values, weights) of each probe; the mass is the mean over probes and the error its standard error. */
export function densityOf(probes: Array<{ values: ArrayLike<number>; weights: ArrayLike<number> }>, kind: 'exact' | 'ritz'): Spectrum {
  const all = probes.flatMap((p) => Array.from(p.values));
  const positive = all.filter((v) => v > 0);
  const lo = positive.length ? Math.min(...positive) : 1e-12;
  const hi = Math.max(...all, lo * 1.000001);
  const a = Math.log10(lo);
  const b = Math.log10(hi) + 1e-9;
  const edges = Array.from({ length: DENSITY_BINS + 1 }, (_, i) => 10 ** (a + ((b - a) * i) / DENSITY_BINS));
  const perProbe = probes.map((p) => {
    const mass = new Array(DENSITY_BINS).fill(0);
    Array.from(p.values).forEach((v, i) => {
      const bin = v <= lo ? 0 : Math.min(DENSITY_BINS - 1, Math.floor(((Math.log10(v) - a) / (b - a)) * DENSITY_BINS));
      mass[bin] += p.weights[i];
    });
    return mass;
  });
  const q = perProbe.length;
  const mass = Array.from({ length: DENSITY_BINS }, (_, i) => perProbe.reduce((s, m) => s + m[i], 0) / q);
  const stderr = Array.from({ length: DENSITY_BINS }, (_, i) => (q > 1 ? Math.sqrt(perProbe.reduce((s, m) => s + (m[i] - mass[i]) ** 2, 0) / (q - 1) / q) : 0));
  const values = probes.flatMap((p) => Array.from(p.values));
  const weights = probes.flatMap((p) => Array.from(p.weights, (w) => w / q));
  return { values, weights, kind, density: { edges, mass, stderr, probes: q } };
}

/** Spans with an operator that has no derivative rule are assembled by finite differences up to this many input dimensions. */
export const FD_MAX_COLUMNS = 1024;

/**
 * Probes the Jacobian of `span` at the runner's sample. A span through an operator without a
 * derivative rule falls back to central finite differences (n <= FD_MAX_COLUMNS), marked as an
 * estimate with a Richardson error bar.
 */
export async function probeJacobian(
  runner: DerivativeRunner,
  span: Span,
  shapeOf: (t: string) => number[],
  rng: Rng,
  gram: GramFunction = jsGram,
  exactMaxDim = EXACT_MAX_DIM,
  limits: ProbeLimits = DEFAULT_PROBE_LIMITS,
  /** The span's Jacobian when {@link assembleMany} assembled it already. */
  assembled?: Float64Array,
): Promise<JacobianFigures> {
  try {
    const figures = await probeWithRules(runner, span, shapeOf, rng, gram, exactMaxDim, limits, assembled);
    const estimated = runner.estimatesOf(span);
    if (estimated.length === 0) return figures;
    // ops without a rule entered as finite-difference slopes (or local Jacobians): widen the error bars
    // by the largest relative error of this span's own estimates. A first-order estimate, not a bound:
    // J = B D A with D off by a relative e moves J by about e * ||J|| when D stands at an end of the
    // product (B or A the identity), and by up to e * ||B|| ||D|| ||A|| when it stands in the middle.
    const rel = runner.slopeError(span);
    return {
      ...figures,
      kinds: estimatesOf(figures.kinds),
      errors: {
        sigmaMax: figures.errors.sigmaMax + rel * figures.sigmaMax,
        sigmaMin: figures.errors.sigmaMin + rel * figures.sigmaMax,
        rmsGain: figures.errors.rmsGain + rel * figures.rmsGain,
      },
      note: `estimate: the derivatives of ${estimated.join(', ')} (no rule) are finite-difference estimates; the error bars add their relative error ${rel.toPrecision(2)} times each figure (first order)`,
    };
  } catch (e) {
    if (!(e instanceof UnsupportedDerivative)) throw e;
    const n = span.sources.reduce((s, t) => s + sizeOf(shapeOf(t)), 0);
    if (n > FD_MAX_COLUMNS) return probeLargeByFiniteDifferences(runner.finiteDifference(span), span, shapeOf, rng, e.message);
    return probeByFiniteDifferences(runner.finiteDifference(span), span, shapeOf, gram, e.message);
  }
}

/**
 * A span too large to assemble by finite differences: Hutchinson's estimate of ||J||_F^2 from
 * finite-difference products J z with Rademacher z gives the rms gain (error: one standard error
 * plus the Richardson error of a product); sigma_max gets a lower estimate, the largest
 * ||J z|| / ||z|| over the probes, with ||J||_F as its upper bound; sigma_min is not available.
 */
async function probeLargeByFiniteDifferences(fd: FiniteDifferenceRunner, span: Span, shapeOf: (t: string) => number[], rng: Rng, why: string): Promise<JacobianFigures> {
  const sizes = span.sources.map((t) => sizeOf(shapeOf(t)));
  const n = sizes.reduce((a, b) => a + b, 0);
  const m = span.targets.reduce((s, t) => s + sizeOf(shapeOf(t)), 0);
  const squares: number[] = [];
  let fdError = 0;
  for (let p = 0; p < HUTCHINSON_PROBES; p++) {
    const z = sizes.map((size) => rademacherBatch(size, 1, rng)[0]);
    const jz = await fd.jvp(z);
    const sq = jz.reduce((s, part) => s + part.reduce((q, x) => q + x * x, 0), 0);
    if (!Number.isFinite(sq)) throw nonFinite();
    squares.push(sq);
    if (p === 0) {
      const jz2 = await fd.jvp(z, 2);
      let d2 = 0;
      jz.forEach((part, i) => part.forEach((x, j) => (d2 += ((x - jz2[i][j]) / 3) ** 2)));
      fdError = Math.sqrt(d2) / Math.max(Math.sqrt(sq), 1e-300);
    }
  }
  const mean = squares.reduce((a, b) => a + b, 0) / squares.length;
  const variance = squares.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(squares.length - 1, 1);
  const stderr = Math.sqrt(variance / squares.length);
  const k = Math.min(m, n);
  const frobenius = Math.sqrt(mean);
  const rms = Math.sqrt(mean / k);
  const rmsError = (rms * stderr) / (2 * Math.max(mean, 1e-300)) + fdError * rms;
  // sigma_max >= the rms of all singular values, so the rms gain (less its error) is a lower bound too
  const lower = Math.max(Math.sqrt(Math.max(...squares) / n), rms - rmsError);
  return {
    sigmaMax: lower,
    sigmaMin: NaN,
    rmsGain: rms,
    conditionNumber: NaN,
    method: 'finite-difference',
    rmsMethod: 'hutchinson',
    kinds: { sigmaMax: 'lower-bound', sigmaMin: 'estimate', rmsGain: 'estimate', conditionNumber: 'estimate' },
    errors: { sigmaMax: fdError * lower, sigmaMin: 0, rmsGain: rmsError },
    inputSize: n,
    outputSize: m,
    runs: fd.runs,
    note: `estimate by central finite differences (${why}; ${n} inputs, too many to assemble): rms gain by Hutchinson over ${HUTCHINSON_PROBES} probes; sigma_max is a lower bound (the larger of the largest probe ratio and the rms gain) and at most ||J||_F = ${frobenius.toPrecision(3)}; sigma_min is not available`,
  };
}

async function probeByFiniteDifferences(fd: FiniteDifferenceRunner, span: Span, shapeOf: (t: string) => number[], gram: GramFunction, why: string): Promise<JacobianFigures> {
  const sizes = span.sources.map((t) => sizeOf(shapeOf(t)));
  const n = sizes.reduce((a, b) => a + b, 0);
  const m = span.targets.reduce((s, t) => s + sizeOf(shapeOf(t)), 0);
  const assembleWith = async (stepScale: number) => {
    const j = new Float64Array(m * n);
    for (let col = 0; col < n; col++) {
      let off = 0;
      const v = sizes.map((size) => {
        const x = new Float64Array(size);
        if (col >= off && col < off + size) x[col - off] = 1;
        off += size;
        return x;
      });
      const out = await fd.jvp(v, stepScale);
      let row = 0;
      for (const part of out) {
        for (let q = 0; q < part.length; q++) j[(row + q) * n + col] = part[q];
        row += part.length;
      }
    }
    return j;
  };
  const j = await assembleWith(1);
  const j2 = await assembleWith(2);
  if (!j.every(Number.isFinite)) throw nonFinite();
  // Richardson: the error of the step-h difference is about (J_h - J_2h) / 3; ||E||_F bounds every singular value's error.
  let e2 = 0;
  for (let i = 0; i < j.length; i++) e2 += ((j[i] - j2[i]) / 3) ** 2;
  const k = Math.min(m, n);
  const sv = singularValuesFromGram(await gram(j, m, n), k);
  const err = Math.sqrt(e2) + float32Error(m, n, sv);
  const estimate = 'estimate' as const;
  return {
    ...assembledFigures(j, m, n, sv, err),
    method: 'finite-difference', rmsMethod: 'exact', errors: { sigmaMax: err, sigmaMin: err, rmsGain: err }, inputSize: n, outputSize: m,
    kinds: { sigmaMax: estimate, sigmaMin: estimate, rmsGain: estimate, conditionNumber: estimate },
    runs: fd.runs,
    note: `central finite differences (${why})`,
  };
}

async function probeWithRules(runner: DerivativeRunner, span: Span, shapeOf: (t: string) => number[], rng: Rng, gram: GramFunction, exactMaxDim: number, limits: ProbeLimits, assembled?: Float64Array): Promise<JacobianFigures> {
  const { op, n, m } = operator(runner, span, shapeOf);
  const runs0 = runner.runs;
  const k = Math.min(m, n);
  if (assembled || (k <= exactMaxDim && m * n <= limits.exactMaxEntries)) {
    const j = assembled ?? await assemble(runner, span, shapeOf, m, n, limits.probeBatchElements);
    if (!j.every(Number.isFinite)) throw nonFinite();
    const sv = singularValuesFromGram(await gram(j, m, n), k);
    const err = float32Error(m, n, sv);
    const exact = 'exact' as const;
    return {
      ...assembledFigures(j, m, n, sv, err), method: 'exact', rmsMethod: 'exact',
      kinds: { sigmaMax: exact, sigmaMin: exact, rmsGain: exact, conditionNumber: exact },
      errors: { sigmaMax: err, sigmaMin: err, rmsGain: err }, inputSize: n, outputSize: m, runs: runner.runs - runs0,
    };
  }
  const figures = await lanczosFigures(op, rng, () => hutchinson(runner, span, shapeOf, rng));
  return { ...figures, runs: runner.runs - runs0 };
}

/**
 * Figures of a Jacobian known only through products, for spans too large to assemble: Golub-Kahan-Lanczos
 * (LANCZOS_STEPS) for sigma_max and the bounds on sigma_min and kappa, stochastic Lanczos quadrature
 * for the spectral density and Hutchinson (`frobenius`: E ||J z||^2 with its standard error) for the rms gain.
 */
export async function lanczosFigures(op: LinearOperator, rng: Rng, frobenius: () => Promise<{ mean: number; stderr: number }>): Promise<Omit<JacobianFigures, 'runs'>> {
  const { n, m } = op;
  const k = Math.min(m, n);
  // Lanczos starts on the smaller side: its Ritz values are those of J^T J (or J J^T) restricted to a
  // Krylov space of the min(m, n)-dimensional side, so by Cauchy interlacing the smallest one is an
  // upper bound on sigma_min over the min(m, n) directions (on the larger side it would approximate
  // the zero singular values of the null space instead) and the largest a lower bound on sigma_max.
  const side = n <= m ? op : { n: m, m: n, matvec: op.rmatvec, rmatvec: op.matvec };
  // a smaller side within the step budget is run to the end: then every figure is exact
  const lz = await golubKahanLanczos(side, rng, LANCZOS_STEPS, k <= LANCZOS_STEPS ? 0 : LANCZOS_TOL);
  if (!lz.ritz.every(Number.isFinite)) throw nonFinite();
  // Stochastic Lanczos quadrature: more random start vectors for the density and its error.
  const probes = [{ values: lz.ritz, weights: lz.weights }];
  for (let p = 0; p < SLQ_EXTRA_PROBES; p++) {
    const extra = await golubKahanLanczos(side, rng, SLQ_STEPS, 0);
    probes.push({ values: extra.ritz, weights: extra.weights });
  }
  const { mean, stderr } = await frobenius();
  const rms = Math.sqrt(Math.max(mean, 0) / k);
  const last = lz.ritz.length - 1;
  // a Krylov space as large as the smaller side holds every singular value
  const complete = lz.steps >= k;
  return {
    sigmaMax: lz.ritz[0],
    sigmaMin: lz.ritz[last],
    rmsGain: rms,
    conditionNumber: lz.ritz[last] > 0 ? lz.ritz[0] / lz.ritz[last] : Infinity,
    method: 'lanczos',
    rmsMethod: 'hutchinson',
    kinds: complete
      ? { sigmaMax: 'exact', sigmaMin: 'exact', rmsGain: 'estimate', conditionNumber: 'exact' }
      : { sigmaMax: lz.converged ? 'estimate' : 'lower-bound', sigmaMin: 'upper-bound', rmsGain: 'estimate', conditionNumber: 'lower-bound' },
    errors: { sigmaMax: lz.residual[0], sigmaMin: lz.residual[last], rmsGain: mean > 0 ? (rms * stderr) / (2 * mean) : 0 },
    inputSize: n,
    outputSize: m,
    spectrum: densityOf(probes, 'ritz'),
  };
}

/** Exact figures become estimates (bounds stay bounds) once a finite-difference slope enters the product. */
function estimatesOf(kinds: JacobianKinds): JacobianKinds {
  const k = (kind: FigureKind): FigureKind => (kind === 'exact' ? 'estimate' : kind);
  return { sigmaMax: k(kinds.sigmaMax), sigmaMin: k(kinds.sigmaMin), rmsGain: k(kinds.rmsGain), conditionNumber: k(kinds.conditionNumber) };
}

/**
 * Figures of an assembled Jacobian from all its singular values: the numerical rank counts the
 * singular values above the error bar, and a Jacobian of lower rank than min(m, n) is singular
 * (condition number infinite). Zero rows are output units that do not move at this sample.
 */
function assembledFigures(j: Float64Array, m: number, n: number, sv: Float64Array, err: number) {
  const k = Math.min(m, n);
  let rank = 0;
  while (rank < k && sv[rank] > err) rank++;
  let zeroRows = 0;
  const columnUsed = new Uint8Array(n);
  for (let i = 0; i < j.length; i++) if (j[i] !== 0) columnUsed[i % n] = 1;
  const zeroColumns = n - columnUsed.reduce((s, x) => s + x, 0);
  for (let r = 0; r < m; r++) {
    let zero = true;
    for (let c = 0; c < n && zero; c++) zero = j[r * n + c] === 0;
    if (zero) zeroRows++;
  }
  const sigmaMax = sv[0];
  const sigmaMin = sv[k - 1];
  return {
    sigmaMax,
    sigmaMin,
    rmsGain: Math.sqrt(sv.reduce((s, x) => s + x * x, 0) / k),
    conditionNumber: rank < k ? Infinity : sigmaMax / sigmaMin,
    rank: { value: rank, of: k, zeroRows, zeroColumns },
    spectrum: densityOf([{ values: sv, weights: new Array(k).fill(1 / k) }], 'exact'),
  };
}

/**
 * float32 error bar of an assembled Jacobian: each entry is a dot product of up to max(m, n) terms
 * rounded once per term, whose rounding errors grow like the square root of their count
 * (probabilistic rounding error analysis, Higham and Mary 2019), relative to the entries' scale:
 * ||E||_2 <= ||E||_F <= u sqrt(max(m, n)) ||J||_F bounds every singular value's error.
 */
function float32Error(m: number, n: number, sv: Float64Array): number {
  return F32_EPS * Math.sqrt(Math.max(m, n)) * Math.sqrt(sv.reduce((s, x) => s + x * x, 0));
}

function nonFinite(): DoctorError {
  return new DoctorError('runtime', 'the Jacobian has NaN or Inf entries at this sample (non-finite weights or activations at or before this layer)');
}

/** The dense m x n Jacobian from batched products: columns J e_i when n <= m, else rows J^T e_j. */
async function assemble(runner: DerivativeRunner, span: Span, shapeOf: (t: string) => number[], m: number, n: number, maxBatchElements: number): Promise<Float64Array> {
  const j = new Float64Array(m * n);
  const byColumns = n <= m;
  const count = byColumns ? n : m;
  const length = byColumns ? m : n;
  const names = byColumns ? span.sources : span.targets;
  const sizes = names.map((t) => sizeOf(shapeOf(t)));
  const batch = Math.max(1, Math.min(count, Math.floor(maxBatchElements / Math.max(length, 1))));
  for (let start = 0; start < count; start += batch) {
    const end = Math.min(count, start + batch);
    const vectors = basisBatch(sizes, start, end);
    const result = byColumns ? await runner.jvp(span, vectors) : await runner.vjp(span, vectors);
    for (let r = 0; r < end - start; r++) {
      let off = 0;
      for (const part of result) {
        const row = part[r];
        for (let q = 0; q < row.length; q++) {
          const other = off + q;
          if (byColumns) j[other * n + (start + r)] = row[q];
          else j[(start + r) * n + other] = row[q];
        }
        off += row.length;
      }
    }
  }
  return j;
}

/** The basis vectors e_start .. e_end-1 of the concatenated tensors of a span's side, split per tensor. */
function basisBatch(sizes: number[], start: number, end: number): Float64Array[][] {
  const vectors = sizes.map(() => [] as Float64Array[]);
  for (let e = start; e < end; e++) {
    let off = 0;
    sizes.forEach((size, t) => {
      const v = new Float64Array(size);
      if (e >= off && e < off + size) v[e - off] = 1;
      vectors[t].push(v);
      off += size;
    });
  }
  return vectors;
}

/**
 * A merged run holds the intermediates of all its parts at once (an attention layer's are many times
 * its vectors), so its chunk gets this fraction of the probe batch: transformer12 peaked at 760 MiB
 * with the whole batch, above the 561 MiB estimate, and at 486 MiB with an eighth, no slower.
 */
const MERGED_BATCH_SHARE = 8;

/** The key of a span in {@link assembleMany}'s result. */
export function spanKey(span: Span): string {
  return JSON.stringify([span.sources, span.targets]);
}

/**
 * Assembles the Jacobians of every span on the exact path whose whole identity batch fits one run
 * (count x vector length within the probe batch), many spans to a run: their derivative models
 * merged into one session (by columns through the JVP models, by rows through the VJP ones), so a
 * model of many small layers costs two sessions and a few runs instead of a session and a run per
 * layer. A span whose derivative model cannot be built (an operator without a rule), or that runs
 * as segments, is left out for {@link probeJacobian} to handle alone. Keyed by {@link spanKey}.
 */
export async function assembleMany(runner: DerivativeRunner, spans: Span[], shapeOf: (t: string) => number[], exactMaxDim: number, limits: ProbeLimits): Promise<Map<string, Float64Array>> {
  const out = new Map<string, Float64Array>();
  const sized = spans.map((span) => {
    const n = span.sources.reduce((s, t) => s + sizeOf(shapeOf(t)), 0);
    const m = span.targets.reduce((s, t) => s + sizeOf(shapeOf(t)), 0);
    return { span, n, m, byColumns: n <= m, elements: Math.min(m, n) * Math.max(m, n) };
  }).filter((x) => x.n > 0 && x.m > 0 && Math.min(x.m, x.n) <= exactMaxDim && x.m * x.n <= limits.exactMaxEntries && x.elements <= limits.probeBatchElements);
  for (const byColumns of [true, false]) {
    let chunk: typeof sized = [];
    let elements = 0;
    const flush = async () => {
      if (chunk.length > 1) await assembleChunk(runner, chunk, shapeOf, byColumns, out).catch(() => undefined);
      chunk = [];
      elements = 0;
    };
    for (const x of sized.filter((y) => y.byColumns === byColumns)) {
      if (elements + x.elements > limits.probeBatchElements / MERGED_BATCH_SHARE) await flush();
      chunk.push(x);
      elements += x.elements;
    }
    await flush();
  }
  return out;
}

/** One merged run: the identity batch of each span's smaller side, scattered into each span's m x n Jacobian. */
async function assembleChunk(runner: DerivativeRunner, chunk: Array<{ span: Span; n: number; m: number }>, shapeOf: (t: string) => number[], byColumns: boolean, out: Map<string, Float64Array>): Promise<void> {
  const vectors = chunk.map(({ span, n, m }) => basisBatch((byColumns ? span.sources : span.targets).map((t) => sizeOf(shapeOf(t))), 0, byColumns ? n : m));
  const results = await runner.manyProducts(byColumns ? 'jvp' : 'vjp', chunk.map((c) => c.span), vectors);
  chunk.forEach(({ span, n, m }, i) => {
    const j = new Float64Array(m * n);
    const count = byColumns ? n : m;
    for (let r = 0; r < count; r++) {
      let off = 0;
      for (const part of results[i]) {
        const row = part[r];
        for (let q = 0; q < row.length; q++) {
          if (byColumns) j[(off + q) * n + r] = row[q];
          else j[r * n + off + q] = row[q];
        }
        off += row.length;
      }
    }
    out.set(spanKey(span), j);
  });
}

/** Hutchinson: ||J||_F^2 = E ||J z||^2 over Rademacher z, with its standard error, in one batched run. */
async function hutchinson(runner: DerivativeRunner, span: Span, shapeOf: (t: string) => number[], rng: Rng, probes = HUTCHINSON_PROBES): Promise<{ mean: number; stderr: number }> {
  const vectors = span.sources.map((t) => rademacherBatch(sizeOf(shapeOf(t)), probes, rng));
  return squaredNormStats(await runner.jvp(span, vectors), probes);
}

/** `count` random sign vectors of length `length` (Rademacher), drawn vector by vector. */
function rademacherBatch(length: number, count: number, rng: Rng): Float64Array[] {
  return Array.from({ length: count }, () => {
    // a plain loop: Float64Array.from with a map function is several times slower over millions of entries
    const z = new Float64Array(length);
    for (let i = 0; i < length; i++) z[i] = rng.uniform() < 0.5 ? -1 : 1;
    return z;
  });
}

/** The mean over the batch of ||J z_k||^2 (summed over the parts) and its standard error. */
function squaredNormStats(parts: Float64Array[][], probes: number): { mean: number; stderr: number } {
  const samples = Array.from({ length: probes }, (_, k) => parts.reduce((s, part) => s + part[k].reduce((q, x) => q + x * x, 0), 0));
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(samples.length - 1, 1);
  return { mean, stderr: Math.sqrt(variance / samples.length) };
}

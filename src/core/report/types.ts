/**
 * The analysis report: one JSON document, versioned, with a published JSON Schema
 * (schema/report.schema.json). The paths named in the README's "Report contract" are a public API.
 */

/** Bumped on any breaking change of the paths in the report contract. */
export const REPORT_SCHEMA_VERSION = 1;

/** A figure that could not be computed carries null and the reason. */
export interface Unavailable {
  reason: string;
}

/** Per-sample values of a figure (the headline value is their median). */
export interface Spread {
  perSample: Array<number | null>;
  min: number | null;
  max: number | null;
}

/** Jacobian figures of a layer (medians over samples). */
export interface LayerJacobian {
  sigmaMax: number | null;
  sigmaMin: number | null;
  rmsGain: number | null;
  conditionNumber: number | null;
  /** 'exact' (assembled Jacobian, dense SVD), 'lanczos' (Golub-Kahan-Lanczos + Hutchinson), 'finite-difference' (an op without a rule: an estimate), or 'failed'. */
  method: 'exact' | 'lanczos' | 'finite-difference' | 'failed';
  /** Why the figures are estimates, when they are. */
  note?: string;
  /** Absolute error bars of the medians' sample, by figure. */
  errors?: { sigmaMax: number; sigmaMin: number; rmsGain: number };
  rmsMethod?: 'exact' | 'hutchinson';
  /** The spectrum at the first sample: all singular values (exact) or the Ritz values of every SLQ probe with quadrature weights; density = mass per log-spaced bin with its standard error across probes. */
  spectrum?: { values: number[]; weights: number[]; kind: 'exact' | 'ritz'; density: { edges: number[]; mass: number[]; stderr: number[]; probes: number } };
  inputSize?: number;
  outputSize?: number;
  spread?: { sigmaMax: Spread; sigmaMin: Spread; rmsGain: Spread };
  /** Why the figures are null, when they are. */
  reason?: string;
}

/** Backpropagated gradient norms at a layer's boundary (medians over samples). */
export interface LayerGradient {
  inputNorm: number | null;
  outputNorm: number | null;
  reason?: string;
}

/** One layer of the report. */
export interface LayerReport {
  name: string;
  index: number;
  module?: string;
  opTypes: string[];
  nodes: string[];
  inputTensors: string[];
  outputTensors: string[];
  parameters: string[];
  jacobian: LayerJacobian;
  gradient: LayerGradient;
  /** log(rmsGain) summed over this and all earlier layers: the running discrete Lyapunov sum. */
  lyapunovRunningSum: number | null;
  /** Fraction of the layer's output units saturated (sigmoid/tanh) or inactive (ReLU) on every sample. */
  saturation?: { kind: 'saturated' | 'dead'; fraction: number } | null;
  durationMs: number;
  /** Recurrent layers: the norm of dL/dh_t at each step t (time is depth, DOMAIN.md section 7). */
  throughTime?: { hiddenGradNorms: number[]; method: string };
}

/** Weight-only figures of one parameter. */
export interface ParameterReport {
  name: string;
  shape: number[];
  /** The layer that reads it, when one does. */
  layer?: string;
  /** Set when this is an Identity copy of a deduplicated initializer: that initializer's name. */
  aliasOf?: string;
  /** Identity copies of this initializer read elsewhere: its gradient is the sum over all of them. */
  sharedWith?: string[];
  /** null when the weight holds NaN or Inf (see reason). */
  norm: number | null;
  gradNorm: number | null;
  /** gradNorm / norm. */
  gradToWeightRatio: number | null;
  /** Largest singular value of the weight as an operator (matrix for Gemm/MatMul, the convolution at the sample's spatial size for Conv). */
  spectralNorm: number | null;
  spectralNormMethod?: string;
  conditionNumber?: number | null;
  variance: number | null;
  kurtosis: number | null;
  fanIn?: number;
  fanOut?: number;
  /** Var(w) divided by each scheme's Var for this fan-in and fan-out. */
  varianceRatio?: { he: number; xavier: number; lecun: number };
  /** Conv weights (stride 1, no groups): the exact spectrum of the circular-padding convolution at the input size. */
  circularSpectrum?: { sigmaMax: number; sigmaMin: number; count: number; method: string };
  /** Recurrent weight R: spectral radius of each gate's H x H block (LSTM i, o, f, c; GRU z, r, h; RNN). */
  recurrentGates?: Array<{ gate: string; spectralRadius: number; spectralNorm: number }>;
  reason?: string;
}

/** A finding (filled by the diagnosis rules). */
export interface Finding {
  id: string;
  rule: string;
  severity: 'error' | 'warning' | 'info';
  layer?: string;
  message: string;
  measured?: number;
  threshold?: number;
  fix?: string;
}

/** The whole report. */
export interface AnalysisReport {
  schemaVersion: number;
  tool: { name: 'gradient-doctor'; version: string };
  model: {
    path: string;
    sha256: string;
    opset: number;
    irVersion: number;
    producer: string;
    inputs: Array<{ name: string; dtype: string; shape?: Array<number | string | null> }>;
    outputs: Array<{ name: string; dtype: string; shape?: Array<number | string | null> }>;
    parameterCount: number;
  };
  run: {
    executionProvider: string;
    executionProviderRequested: string;
    executionProviderNote?: string;
    ortVersion: string;
    samples: number;
    sampleSource: 'synthesized' | 'files';
    sampleInputs: Array<{ input: string; dtype: string; dims: number[]; distribution: string }>;
    seed: number;
    loss: 'sum' | 'mse' | 'ce';
    lossValue: number | null;
    labels?: string;
    granularity: 'op' | 'layer' | 'module';
    durationMs: number;
    derivativeRuns: number;
    exactMaxDim: number;
    /** Elementwise op types without a rule whose derivative is a finite-difference slope: every figure downstream of them is an estimate. */
    finiteDifferenceSlopes?: string[];
  };
  layers: LayerReport[];
  parameters: ParameterReport[];
  endToEnd: {
    sigmaMax: number | null;
    sigmaMin: number | null;
    rmsGain: number | null;
    conditionNumber: number | null;
    method: 'exact' | 'lanczos' | 'finite-difference' | 'failed';
    /** Mean over layers of log(rmsGain): the discrete Lyapunov exponent (DOMAIN.md section 2). */
    lyapunovExponent: number | null;
    reason?: string;
  };
  curvature: {
    hessianMaxEigenvalue: number | null;
    maxStableLearningRate: number | null;
    maxStableLearningRateMomentum: number | null;
    momentum: number;
    method?: string;
    error?: number;
    reason?: string;
  };
  /** NaN or Inf found in weights or activations, with the first node producing it. */
  nonFinite: Array<{ tensor: string; node?: string; where: 'weight' | 'activation' }>;
  findings: Finding[];
}

/**
 * The analysis report: one JSON document, versioned, with a published JSON Schema
 * (schema/report.schema.json). The paths named in the README's "Report contract" are a public API.
 */

/** Bumped on any breaking change of the paths in the report contract. */
export const REPORT_SCHEMA_VERSION = 1;
/** Bumped when fields are added and the existing paths keep their meaning (1: the figures' kinds, ranks; 2: grouped findings' members; 3: run.recurrent; 4: run.batchNorm). */
export const REPORT_SCHEMA_MINOR = 4;

/**
 * What a figure is: `exact` (computed to rounding, its error bar is float32's), `estimate` (within
 * its error bar: Lanczos, Hutchinson, finite differences), or a one-sided bound on the true value
 * (`upper-bound`: the truth is at most this; `lower-bound`: at least this).
 */
export type FigureKind = 'exact' | 'estimate' | 'upper-bound' | 'lower-bound';

/** One figure with its kind and absolute error bar: what every view prints and every rule reads. */
export interface Figure {
  value: number;
  kind: FigureKind;
  error?: number;
}

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
  /**
   * 'exact' (assembled Jacobian, dense SVD), 'lanczos' (Golub-Kahan-Lanczos + Hutchinson), 'finite-difference'
   * (an op without a rule: an estimate), 'failed', or 'pending' (a report made while the analysis refines: not computed yet).
   */
  method: 'exact' | 'lanczos' | 'finite-difference' | 'failed' | 'pending';
  /** Why the figures are estimates, when they are. */
  note?: string;
  /** What each figure is (exact, an estimate, or a bound), by figure. */
  kinds?: { sigmaMax: FigureKind; sigmaMin: FigureKind; rmsGain: FigureKind; conditionNumber: FigureKind };
  /** Absolute error bars of the medians' sample, by figure. */
  errors?: { sigmaMax: number; sigmaMin: number; rmsGain: number };
  /**
   * Numerical rank of the assembled Jacobian (singular values above the error bar) of min(m, n),
   * at the first sample, and the output units whose row is zero there (units that are off at this
   * sample) and the inputs whose column is zero there (inputs a strided convolution skips). A rank
   * below `of` makes the layer singular: conditionNumber is then null and infinite.
   */
  rank?: { value: number; of: number; zeroRows: number; zeroColumns?: number };
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

/**
 * The range, over all samples, of an input whose domain is restricted (Log, Sqrt, fractional Pow,
 * Div's divisor, Reciprocal) or of a Softmax's input (with the count of rows that were all -inf).
 * min, max and minAbs are over the finite values; the flags say whether others occurred.
 */
export interface NumericRange {
  node: string;
  opType: string;
  tensor: string;
  min: number | null;
  max: number | null;
  minAbs: number | null;
  nan: boolean;
  negInf: boolean;
  posInf: boolean;
  samples: number;
  rows?: number;
  maskedRows?: number;
}

/** A change to the model that a what-if preview can apply to an in-memory copy. */
export type Remedy =
  | { kind: 'rescale'; parameter: string; factor: number }
  | { kind: 'reinit'; parameter: string; scheme: 'he' | 'xavier' | 'lecun' | 'orthogonal'; std: number; gain?: number }
  | { kind: 'swap-activation'; node: string; from: string; to: string }
  | { kind: 'residual-scale'; node: string; input: number; factor: number };

/** A finding of a diagnosis rule (DOMAIN.md section 10's words). */
export interface Finding {
  /** Unique within the report: the rule id and what it is about, e.g. `vanishing-gradient:/layers.0/Gemm`. */
  id: string;
  rule: string;
  severity: 'error' | 'warning' | 'info';
  /** The layer it is about (its name in layers[]), when it is about one. */
  layer?: string;
  node?: string;
  tensor?: string;
  parameter?: string;
  /** Layer names of a depth range (first, last), for findings about a stretch of the network. */
  range?: [string, string];
  message: string;
  /** The figure measured and its name. */
  measured?: number;
  /** What the measured figure is: a bound confirms a finding in its own direction only ("at least 53"). */
  measuredKind?: FigureKind;
  measuredName?: string;
  threshold?: number;
  /** The threshold's name (override it by this name in settings, a config file or --threshold). */
  thresholdName?: string;
  /** Why it matters, in one sentence. */
  why: string;
  fix?: string;
  /** What the fix is expected to change. */
  expect?: string;
  /** Changes a what-if preview can apply to a copy of the model (a group's: the union of its members'). */
  remedies?: Remedy[];
  /**
   * A grouped finding: the rule's findings of one severity on several layers (or nodes, or
   * weights), in depth order, each as the rule found it alone. The group's `layer`, `node`,
   * `parameter` and `tensor` are its first member's; `measured` and `threshold` its worst
   * member's; `range` is set when the members' layers are one unbroken stretch.
   */
  members?: FindingMember[];
}

/**
 * One member of a grouped finding: what the rule says of that layer, node or weight alone. Its
 * `id` is the id the finding has when it stands alone; `why` and `expect` are given only where
 * they differ from the group's.
 */
export type FindingMember = Omit<Finding, 'rule' | 'severity' | 'range' | 'members' | 'why'> & { why?: string };

/** The one-line summary of a model's health. */
export interface Verdict {
  status: 'healthy' | 'at-risk' | 'pathological';
  /** One sentence: the status and the finding that matters most. */
  headline: string;
  top?: string;
  counts: { error: number; warning: number; info: number };
}

/** The whole report. */
export interface AnalysisReport {
  schemaVersion: number;
  /** The schema's minor version: fields added since schemaVersion's first release. */
  schemaMinor?: number;
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
    /** How each input was made; `note` says why its sizes are not the defaults when the size ladder chose them (README "Sample inputs"). */
    sampleInputs: Array<{ input: string; dtype: string; dims: number[]; distribution: string; note?: string }>;
    seed: number;
    /** The loss the gradient flow and curvature were taken of (README "Losses"). */
    loss: 'sum' | 'mse' | 'ce' | 'nll';
    /** Mean or sum over the batch's predictions; the learning-rate bound is for this loss. */
    lossReduction?: 'mean' | 'sum';
    /** Why this loss, when it was chosen for the model (`auto`). */
    lossNote?: string;
    lossValue: number | null;
    labels?: string;
    granularity: 'op' | 'layer' | 'module';
    durationMs: number;
    /** When the first answer (gradient flow and a first look at every layer) was ready, from the start. */
    firstAnswerMs?: number;
    /**
     * Set only on a report made while the analysis runs (the CLI's and the editor's live view):
     * 'first-answer' holds the gradient flow and a first look at every layer (sigma_max and the rms
     * gain), 'refining' has some layers probed in full. The final report has no phase.
     */
    phase?: 'first-answer' | 'refining';
    /** The memory budget (MiB), the estimate of the analysis's peak before it started, and what was lowered to fit (README "Memory"). */
    memory?: { budgetMB: number; estimateMB: number; lowered?: string[] };
    derivativeRuns: number;
    /** GFLOPs of the Jacobian-vector and vector-Jacobian products made (curvature's Hessian products aside), for the benchmark's floor (README "Performance"). */
    productGflops?: number;
    exactMaxDim: number;
    /** Elementwise op types without a rule whose derivative is a finite-difference slope: every figure downstream of them is an estimate. */
    finiteDifferenceSlopes?: string[];
    /** If, Loop and Scan nodes: the branch taken or iterations run at the first sample (analysed as such), or why one was left as it is. */
    controlFlow?: Array<{ node: string; opType: string; how: string; inlined: boolean }>;
    /**
     * BatchNorm as analysed (README "BatchNorm at initialisation"; schema 1.4): `batch` statistics of
     * a batch of `batchSize` samples frozen into the nodes (as in training, the Jacobians holding them
     * constant), or the `running` ones stored in the model; what was detected: BatchNorm nodes with
     * default or trained running statistics, convolutions with a BatchNorm folded in by the exporter
     * (re-inserted in batch mode), Dropout nodes (run as the identity). Absent when the model has none.
     */
    batchNorm?: {
      requested: 'auto' | 'batch' | 'running';
      mode: 'batch' | 'running';
      reason: string;
      defaultStatistics: string[];
      trainedStatistics: string[];
      folded: Array<{ node: string; weight: string; bias: string; atDefaults: boolean }>;
      dropout: string[];
      batchSize?: number;
      passes?: number;
    };
    /** LSTM, GRU and RNN nodes: unrolled through time (and into how many steps), or why one was analysed as it is. */
    recurrent?: Array<{ node: string; opType: string; how: string; unrolled: boolean }>;
  };
  layers: LayerReport[];
  parameters: ParameterReport[];
  endToEnd: {
    sigmaMax: number | null;
    sigmaMin: number | null;
    rmsGain: number | null;
    conditionNumber: number | null;
    method: 'exact' | 'lanczos' | 'finite-difference' | 'failed' | 'pending';
    kinds?: { sigmaMax: FigureKind; sigmaMin: FigureKind; rmsGain: FigureKind; conditionNumber: FigureKind };
    errors?: { sigmaMax: number; sigmaMin: number; rmsGain: number };
    rank?: { value: number; of: number; zeroRows: number; zeroColumns?: number };
    /** Mean over layers of log(rmsGain): the discrete Lyapunov exponent (DOMAIN.md section 2). */
    lyapunovExponent: number | null;
    reason?: string;
  };
  curvature: {
    hessianMaxEigenvalue: number | null;
    maxStableLearningRate: number | null;
    maxStableLearningRateMomentum: number | null;
    momentum: number;
    /** What each figure is: the top Ritz value is a lower bound on lambda_max until it converges, so the learning rates are then upper bounds. */
    kinds?: { hessianMaxEigenvalue: FigureKind; maxStableLearningRate: FigureKind; maxStableLearningRateMomentum: FigureKind };
    method?: string;
    error?: number;
    reason?: string;
  };
  /** NaN or Inf found in weights or activations, with the first node producing it. */
  nonFinite: Array<{ tensor: string; node?: string; where: 'weight' | 'activation' }>;
  /** Ranges of domain-restricted inputs and Softmax inputs over the samples (numeric-hazard evidence). */
  numerics?: NumericRange[];
  findings: Finding[];
  verdict?: Verdict;
}

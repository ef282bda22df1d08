import { DoctorError } from '../errors';

/** A named threshold of a diagnosis rule: its default and the reasoning behind it (shown in the README). */
export interface ThresholdSpec {
  value: number;
  /** What it bounds, in one line. */
  description: string;
  /** Why this default, in one sentence a user can follow (shown in the README's threshold table). */
  reason: string;
}

/**
 * Every threshold the rules use, by name. Users override any of them by name (VS Code setting
 * `gradientDoctor.thresholds`, the `thresholds` object of a `.gradient-doctor.json` config file,
 * or `--threshold name=value`). The README's threshold table is generated from this list and a
 * test keeps the two equal.
 */
export const THRESHOLDS = {
  vanishingGradientWarning: {
    value: 1e-3,
    description: 'gradient reaching the first layer / gradient leaving the last layer: warning below',
    reason: 'a 1000x attenuation means the first layers learn three orders of magnitude slower than the last; in the training table (README "Does it train?") every model without BatchNorm that trains has a ratio of 0.31 or more, 300x above it',
  },
  vanishingGradientError: {
    value: 1e-4,
    description: 'the same ratio: error below',
    reason: 'the training table: every model without BatchNorm that does not train through vanishing has a ratio of 6.2e-5 or less (mlp_relu_default10 6.2e-5, mlp_tanh_under20 8.1e-7, deep sigmoid 1.2e-13), 1.6x below it, and every one that trains 0.31 or more, 3100x above it',
  },
  explodingGradientWarning: {
    value: 500,
    description: 'gradient reaching the first layer / gradient leaving the last layer: warning above',
    reason: 'a 500x growth makes the first layers\' step 500x the last layers\': one learning rate cannot suit both; in the training table every model that trains has a ratio of 377 or less (regnet_x_400mf with BatchNorm; 1.11 or less without), 1.3x below it, and the models that do not train through explosion 2580 or more',
  },
  explodingGradientError: {
    value: 1e3,
    description: 'the same ratio: error above',
    reason: 'the training table: the models that do not train through explosion have a ratio of 2580 or more (mlp_tanh_over20 2580, plain_relu32_over 2.2e7), 2.6x above it, and every model without BatchNorm that trains 1.11 or less, 900x below it',
  },
  endToEndSigmaMax: {
    value: 10,
    description: 'largest singular value of the input-to-output Jacobian: warning above (info in a model that normalises its activations)',
    reason: 'dynamical isometry wants every singular value near 1; 10x stretch in one direction is far from it. BatchNorm networks train at 135 (shufflenet_v2) and 577 (regnet_x_400mf) in the training table, so there it is information',
  },
  endToEndRmsGain: {
    value: 1e-4,
    description: 'rms singular value of the input-to-output Jacobian: warning below',
    reason: 'the output no longer depends measurably on the input: the signal has collapsed',
  },
  lyapunovExponent: {
    value: 0.5,
    description: '|mean over layers of log(rms gain)|: warning above, for models without skip connections',
    reason: 'e^0.5 = 1.65x per layer compounds to 150x over 10 layers; zero is the critical point',
  },
  lyapunovMinLayers: {
    value: 6,
    description: 'the Lyapunov exponent is judged only with at least this many layers',
    reason: 'a mean over a few layers says little about depth',
  },
  expansiveLayerSigmaMax: {
    value: 2,
    description: 'a layer\'s largest singular value above which it counts as exploding when its weights are also over-scaled',
    reason: 'a well-initialised square layer reaches ~2 at the random-matrix edge; above it with over-scaled weights, the weights are the cause',
  },
  explodingLayerSigmaMax: {
    value: 5,
    description: 'a layer\'s largest singular value above which it counts as exploding whatever its weights',
    reason: '2.5x beyond the random-matrix edge of a well-initialised layer',
  },
  contractingLayerRmsGain: {
    value: 0.2,
    description: 'a layer\'s rms gain below which it counts as contracting',
    reason: 'five such layers shrink a signal 3000x; a sigmoid layer cannot exceed 0.25',
  },
  illConditioned: {
    value: 1e4,
    description: 'a layer\'s condition number sigma_max / sigma_min: warning above',
    reason: 'the layer passes gradients 10^4 times more strongly along some directions than others: the network is blind to the weak ones',
  },
  saturatedFraction: {
    value: 0.1,
    description: 'fraction of a sigmoid/tanh layer\'s units saturated on every sample: warning above',
    reason: 'a saturated unit passes a slope below 0.02: no gradient',
  },
  deadFraction: {
    value: 0.5,
    description: 'fraction of a ReLU layer\'s units inactive on every sample: warning above',
    reason: 'a unit negative on all inputs never gets a gradient; deep ReLU stacks at He init correlate their samples, so up to a third of a deep layer can look dead at init, half is beyond that',
  },
  deadMinSamples: {
    value: 8,
    description: 'dead units are judged only with at least this many samples (--samples)',
    reason: 'a healthy ReLU unit is off on one sample half the time; on 8 independent samples 0.4% of the time',
  },
  initVarianceRatio: {
    value: 4,
    description: 'weight variance / the init scheme\'s variance for its fan-in and activation: warning above this or below its inverse',
    reason: 'a factor 4 in variance is 2x per layer in gain, compounding with depth; applied to weights that match no standard scheme (initSchemeMatch). A scheme that matches is flagged only on a plain stack where it compounds past the gradient-ratio warnings: in the training table PyTorch\'s default Linear init (1/6 of He) trains in the residual, normalised transformers and does not on a plain 10-layer ReLU MLP (gain 1.3e-4 over the stack)',
  },
  initSchemeMatch: {
    value: 1.5,
    description: 'a weight matches a standard init scheme (He fan-in or fan-out, LeCun, Xavier, PyTorch\'s default) when its variance is within this factor of the scheme\'s',
    reason: 'the schemes differ by factors of 2 (He and LeCun) to 6 (He and PyTorch\'s default); a 64x64 weight\'s sample variance is within 10% of its scheme\'s',
  },
  heavyTailKurtosis: {
    value: 6,
    description: 'excess kurtosis of a weight: warning above',
    reason: 'heavy tails push units into saturation even with the right variance; a Gaussian has 0, a Laplace 3',
  },
  recurrentRadiusHigh: {
    value: 1.1,
    description: 'spectral radius of a plain RNN\'s recurrent weight: warning above, when the number of steps is unknown (with it, radius^(steps - 1) is judged against the gradient-ratio thresholds)',
    reason: 'orthogonal init measures 1.002 and trains in the training table (rnn_orthogonal); 1.1^72 already passes the exploding-gradient warning',
  },
  recurrentRadiusLow: {
    value: 0.3,
    description: 'spectral radius of a plain RNN\'s recurrent weight: warning below, when the number of steps is unknown (with it, radius^(steps - 1) is judged against the gradient-ratio thresholds)',
    reason: 'rho = 0.3 forgets 90% of a signal within two steps: long-range gradients vanish; in the training table radius 0.2 over 30 steps (0.2^29 = 5e-21) does not train',
  },
  divisorFloor: {
    value: 1e-6,
    description: 'smallest |divisor| of Div or Reciprocal on the samples: warning below',
    reason: 'near zero the quotient overflows float32 and its derivative (1/x^2) far sooner',
  },
  postNormGradientGrowthWarning: {
    value: 2,
    description: 'in post-norm residual blocks (LayerNorm after the Add), the last block\'s parameter-gradient norm / the geometric mean over the blocks of its kind: warning above',
    reason: 'the training table: the 6-layer post-norm transformer trains and measures 1.3 to 1.7 (1.6 at the default analysis; samples of 3 seeds, 4 and 16 samples), 1.2x below it; the 12-layer one trains more slowly than pre-norm (loss ratio 0.35 against 0.16) and measures 1.3 at the default analysis and 2.5 to 3.5 at other samples; pre-norm ones measure 0.8 to 1.2 and are not post-norm',
  },
  postNormGradientGrowthError: {
    value: 3,
    description: 'the same ratio: error above',
    reason: 'the training table: the 24-layer post-norm transformer, which does not train, measures 3.7 at the default analysis (one sample), 6.8 and 8.1 at two other samples and 7.2 to 7.8 with 4 or 16 samples; the 12-layer one, which trains, 1.3 at the default, 2.5 and 3.5 at two other samples and 2.7 to 2.8 with 4 or 16: with one sample the figure moves about 2x between samples (a false error is possible), with 4 or more it separates the two by 2.6x (use --samples 4 or more)',
  },
  plainStackMinLayers: {
    value: 8,
    description: 'a model without skip connections and at least this many layers counts as a deep plain stack',
    reason: 'residual connections are the standard cure for gradient decay beyond a few layers',
  },
  batchNormVarianceFloor: {
    value: 1e-6,
    description: 'a BatchNorm running variance below this counts as degenerate',
    reason: 'the unit is divided by sqrt(var + eps) ~ sqrt(eps): a gain of ~300 on noise',
  },
} satisfies Record<string, ThresholdSpec>;

export type ThresholdName = keyof typeof THRESHOLDS;
export type Thresholds = Record<ThresholdName, number>;

/** The defaults with user overrides applied; unknown names and non-numbers are refused with the name. */
export function resolveThresholds(overrides: Record<string, unknown> = {}, where = 'thresholds'): Thresholds {
  const out = Object.fromEntries(Object.entries(THRESHOLDS).map(([k, v]) => [k, v.value])) as Thresholds;
  for (const [k, v] of Object.entries(overrides)) {
    if (!(k in THRESHOLDS)) {
      throw new DoctorError('bad-input', `unknown threshold "${k}" in ${where}; known: ${Object.keys(THRESHOLDS).join(', ')}`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new DoctorError('bad-input', `threshold "${k}" in ${where} must be a non-negative number, not ${JSON.stringify(v)}`);
    }
    out[k as ThresholdName] = v;
  }
  return out;
}

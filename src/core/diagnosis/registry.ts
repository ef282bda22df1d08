import type { Rule } from './rule';
import { degenerateBatchNorm, missingNormalization, plainDeepStack } from './rules/architecture';
import { batchNormSemantics } from './rules/batchNorm';
import { incompleteAnalysis } from './rules/coverage';
import { endToEndCollapse, endToEndExplosion, lyapunovExponent } from './rules/endToEnd';
import { explodingGradient, vanishingGradient } from './rules/gradientFlow';
import { heavyTailedWeights, misScaledInit, zeroInit } from './rules/initialisation';
import { contractingLayer, explodingLayer, illConditioned } from './rules/layerGain';
import { learningRate } from './rules/learningRate';
import { domainHazard, logOfSoftmax, maskedRow, nonFinite, unstableSoftmax } from './rules/numericHazards';
import { postNormGradientGrowth } from './rules/postNorm';
import { recurrentSpectralRadius } from './rules/recurrent';
import { deadUnits, saturatedUnits } from './rules/units';

/** Every diagnosis rule, in the order their findings are listed at equal severity. */
export const RULES: readonly Rule[] = [
  nonFinite,
  maskedRow,
  vanishingGradient,
  explodingGradient,
  postNormGradientGrowth,
  endToEndCollapse,
  endToEndExplosion,
  lyapunovExponent,
  explodingLayer,
  contractingLayer,
  illConditioned,
  saturatedUnits,
  deadUnits,
  misScaledInit,
  zeroInit,
  heavyTailedWeights,
  recurrentSpectralRadius,
  learningRate,
  domainHazard,
  unstableSoftmax,
  logOfSoftmax,
  plainDeepStack,
  missingNormalization,
  degenerateBatchNorm,
  batchNormSemantics,
  incompleteAnalysis,
];

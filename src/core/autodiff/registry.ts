import type { DerivativeRule } from './rule';
import { batchNormalization } from './rules/batchNorm';
import { addRule, divRule, mulRule, powRule, subRule } from './rules/binary';
import { cast, castLike } from './rules/cast';
import { concat, split } from './rules/concat';
import { conv } from './rules/conv';
import { gather } from './rules/gather';
import { gatherElements } from './rules/gatherElements';
import { gemm } from './rules/gemm';
import { layerNormalization } from './rules/layerNorm';
import { matmul } from './rules/matmul';
import { globalAveragePool, globalMaxPool, reduceL1, reduceL2, reduceLogSum, reduceLogSumExp, reduceMax, reduceMean, reduceMin, reduceSum, reduceSumSquare } from './rules/reduce';
import { expand, flatten, reshape, squeeze, transpose, unsqueeze } from './rules/shape';
import { slice } from './rules/slice';
import { logSoftmax, softmax } from './rules/softmax';
import { abs, clip, dropout, elu, erf, exp, gelu, hardSigmoid, hardSwish, identity, leakyRelu, log, neg, reciprocal, relu, sigmoid, softplus, sqrt, tanh } from './rules/unary';
import { averagePool, maxPool } from './rules/pool';
import { pad } from './rules/pad';
import { cumSum } from './rules/cumSum';
import { groupNormalization } from './rules/groupNorm';
import { instanceNormalization } from './rules/instanceNorm';
import { resize, upsample } from './rules/resize';
import { einsum } from './rules/einsum';
import { tile } from './rules/tile';
import { maxRule, meanRule, minRule, sumRule } from './rules/variadic';
import { convTranspose } from './rules/convTranspose';
import { scatterElements } from './rules/scatter';
import { where } from './rules/where';

/** Every derivative rule, listed explicitly (no side-effect registration). Keep README's table in step. */
const RULES: DerivativeRule[] = [
  abs, addRule, averagePool, batchNormalization, cast, castLike, clip, concat, conv, convTranspose, cumSum, divRule, dropout, einsum, elu, erf, exp,
  expand, flatten, gather, gatherElements, gelu, gemm, globalAveragePool, globalMaxPool, groupNormalization, hardSigmoid, hardSwish, identity, instanceNormalization,
  layerNormalization, leakyRelu, log, logSoftmax, matmul, maxPool, maxRule, meanRule, minRule, mulRule, neg, pad, powRule, reciprocal,
  reduceL1, reduceL2, reduceLogSum, reduceLogSumExp, reduceMax, reduceMean, reduceMin, reduceSum, reduceSumSquare, relu, reshape, resize, sigmoid,
  slice, softmax, softplus, scatterElements, split, sqrt, squeeze, subRule, sumRule, tanh, tile, transpose, unsqueeze, upsample, where,
];

/** Op types whose outputs carry no derivative at all (shape computations, comparisons, index ops). */
export const NON_DIFFERENTIABLE = new Set([
  'Shape', 'Size', 'Constant', 'ConstantOfShape', 'Sign', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or',
  'Xor', 'ArgMax', 'ArgMin', 'NonZero', 'Range', 'OneHot', 'EyeLike', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike',
]);

function build(rules: DerivativeRule[]): ReadonlyMap<string, DerivativeRule> {
  const map = new Map<string, DerivativeRule>();
  for (const r of rules) {
    if (map.has(r.opType)) throw new Error(`two derivative rules for ${r.opType}`);
    map.set(r.opType, r);
  }
  return map;
}

/** The derivative rules by op type (default ONNX domain). */
export const REGISTRY: ReadonlyMap<string, DerivativeRule> = build(RULES);

/** The op types with a derivative rule, sorted. */
export function supportedOps(): string[] {
  return [...REGISTRY.keys()].sort();
}

import { DoctorError } from '../errors';
import type { DataType, Node } from '../onnx/types';
import type { GraphBuilder } from './builder';

/**
 * What a derivative rule sees of the graph: the node, static facts about primal tensors at the
 * sample (shapes and element types are known from the forward pass), and a builder for new nodes.
 *
 * Derivatives are batched: a tangent or cotangent of a primal tensor of shape S has shape [K, ...S],
 * one slice per probe vector. Primal tensors keep their own names and shapes; broadcasting puts the
 * K axis in front. Rules use negative axes so that primal axes index the batched tensors too.
 */
export interface RuleContext {
  node: Node;
  /** The model's default-domain opset (some ops changed meaning across opsets). */
  opset: number;
  b: GraphBuilder;
  /** Static shape of a primal tensor at the sample. */
  shape(name: string): number[];
  /** Element type of a primal tensor. */
  dtype(name: string): DataType;
  /** Values of a constant tensor (initializer or Constant node output), when it is one. */
  constant(name: string): Float64Array | undefined;
  /** An int attribute. */
  int(name: string, fallback: number): number;
  /** A float attribute. */
  float(name: string, fallback: number): number;
  /** An ints attribute. */
  ints(name: string, fallback?: number[]): number[] | undefined;
  /** Whether input `index` of the node needs a derivative (reverse mode: only active inputs do). */
  needs(index: number): boolean;
  /** A string attribute. */
  str(name: string, fallback: string): string;
}

/** Tangent or cotangent names, one per node input or output; undefined means identically zero. */
export type Derivs = Array<string | undefined>;

/** The forward- and reverse-mode derivative of one ONNX operator. */
export interface DerivativeRule {
  opType: string;
  /** Output tangents from input tangents (J v). */
  jvp(ctx: RuleContext, dInputs: Derivs): Derivs;
  /** Input cotangents from output cotangents (J^T u). */
  vjp(ctx: RuleContext, gOutputs: Derivs): Derivs;
}

/** Thrown when a rule meets a case it does not cover (the caller falls back or reports it). */
export class UnsupportedDerivative extends DoctorError {
  constructor(node: Node, what: string) {
    super('unsupported', `no derivative for ${node.opType} node '${node.name}': ${what}`);
  }
}

/** `axis` of a tensor of rank `rank`, as a negative axis (valid for the batched tensor too). */
export function negAxis(axis: number, rank: number): number {
  return axis < 0 ? axis : axis - rank;
}

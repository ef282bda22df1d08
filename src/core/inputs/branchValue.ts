import type { Node } from '../onnx/types';
import { valueUses, type GraphScan } from './graphScan';

/** Ops through which a scalar flows unchanged in value on its way to a comparison. */
const PASS_VALUE = new Set(['Cast', 'Identity', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten']);
/** Comparisons of an input with a constant; Equal first: its constant is the value that selects a branch. */
const COMPARISONS = ['Equal', 'GreaterOrEqual', 'LessOrEqual', 'Greater', 'Less'];
/** Ops through which a comparison's result still decides an If's condition. */
const PASS_CONDITION = new Set(['Not', 'And', 'Or', 'Xor', 'Cast', 'Identity', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten']);

/** The value a scalar integer input takes in synthesized samples because the graph branches on it. */
export interface BranchValue {
  value: number;
  /** e.g. "the constant Equal 'is_16k' compares it with, which decides If 'branch'". */
  reason: string;
}

/**
 * The constant a scalar integer input is compared with (Equal, Greater, Less and their OrEqual forms,
 * after casts and reshapes) where the comparison decides an If's branch: a sample rate compared with
 * 16000 selects the 16 kHz branch only when the sample says 16000, which a random integer never does.
 * Equal's constant wins over an inequality's; the first in graph order wins among equals.
 */
export function branchConstant(scan: GraphScan, input: string): BranchValue | undefined {
  const found: Array<{ node: Node; value: number; decides: Node }> = [];
  for (const { node, tensor } of valueUses(scan.consumers, input, PASS_VALUE)) {
    if (!COMPARISONS.includes(node.opType) || node.inputs.length !== 2) continue;
    const other = node.inputs[0] === tensor ? node.inputs[1] : node.inputs[0];
    const value = scan.constant(other);
    const decides = value?.length === 1 && Number.isSafeInteger(value[0]) ? decidedIf(scan, node.outputs[0]) : undefined;
    if (value && decides) found.push({ node, value: value[0], decides });
  }
  found.sort((a, b) => COMPARISONS.indexOf(a.node.opType) - COMPARISONS.indexOf(b.node.opType));
  const best = found[0];
  if (!best) return undefined;
  return { value: best.value, reason: `the constant ${best.node.opType} '${best.node.name}' compares it with, which decides If '${best.decides.name}'` };
}

/** The If whose condition `tensor` decides (through logical ops and casts), if any. */
function decidedIf(scan: GraphScan, tensor: string | undefined): Node | undefined {
  const seen = new Set<string>();
  const queue = tensor ? [tensor] : [];
  while (queue.length > 0) {
    const t = queue.shift() as string;
    if (seen.has(t)) continue;
    seen.add(t);
    for (const node of scan.consumers.get(t) ?? []) {
      if (node.opType === 'If' && node.inputs[0] === t) return node;
      if (PASS_CONDITION.has(node.opType)) queue.push(...node.outputs);
    }
  }
  return undefined;
}

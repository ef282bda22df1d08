import type { ForwardPass } from '../autodiff/probe';
import { toNumbers } from '../ndarray';
import { getAttribute, type Node } from '../onnx/types';
import type { NumericRange } from '../report/types';

/** Ops whose input domain is restricted (DOMAIN.md section 9), with the input that is checked. */
const DOMAIN_INPUT: Record<string, number> = { Log: 0, Sqrt: 0, Pow: 0, Div: 1, Reciprocal: 0 };

/**
 * Records, over all samples, the range of every domain-restricted input (Log, Sqrt, fractional Pow,
 * Div's divisor, Reciprocal) and, for every Softmax, how many rows of its input were entirely -inf.
 * The diagnosis rules read these as numeric-hazard evidence.
 */
export class NumericsTracker {
  private readonly ranges = new Map<string, NumericRange>();

  add(forward: ForwardPass): void {
    for (const node of forward.model.graph.nodes) {
      if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
      if (node.opType === 'Softmax') this.addSoftmax(node, forward);
      const at = DOMAIN_INPUT[node.opType];
      if (at === undefined) continue;
      if (node.opType === 'Pow') {
        const e = forward.values.get(node.inputs[1]);
        if (!e || toNumbers(e).every(Number.isInteger)) continue;
      }
      const x = forward.values.get(node.inputs[at]);
      if (!x || x.dtype === 'int64' || x.dtype === 'int32' || x.dtype === 'bool') continue;
      const r = this.entry(node, node.inputs[at]);
      fold(r, toNumbers(x));
      r.samples++;
    }
  }

  result(): NumericRange[] {
    return [...this.ranges.values()].map((r) => ({ ...r, min: finite(r.min), max: finite(r.max), minAbs: finite(r.minAbs) }));
  }

  private entry(node: Node, tensor: string): NumericRange {
    let r = this.ranges.get(node.name + '\0' + tensor);
    if (!r) {
      r = { node: node.name, opType: node.opType, tensor, min: Infinity, max: -Infinity, minAbs: Infinity, nan: false, negInf: false, posInf: false, samples: 0 };
      this.ranges.set(node.name + '\0' + tensor, r);
    }
    return r;
  }

  private addSoftmax(node: Node, forward: ForwardPass): void {
    const x = forward.values.get(node.inputs[0]);
    if (!x || x.dims.length === 0) return;
    const rank = x.dims.length;
    const a = getAttribute(node, 'axis');
    let axis = a?.type === 'int' ? a.value : -1;
    if (axis < 0) axis += rank;
    const v = toNumbers(x);
    // Opset < 13 flattens from `axis` on; opset 13 normalises one axis. Either way, count runs of
    // elements along the axis (the trailing block for the old form).
    const len = x.dims[axis];
    const inner = x.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
    const outer = x.dims.slice(0, axis).reduce((p, d) => p * d, 1);
    let masked = 0;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let all = true;
        for (let k = 0; k < len && all; k++) if (v[(o * len + k) * inner + i] !== -Infinity) all = false;
        if (all) masked++;
      }
    }
    const r = this.entry(node, node.inputs[0]);
    r.samples++;
    r.rows = (r.rows ?? 0) + outer * inner;
    r.maskedRows = (r.maskedRows ?? 0) + masked;
    fold(r, v);
  }
}

/** Folds values into a range: min, max and min |v| over the finite ones, flags for the others. */
function fold(r: NumericRange, values: Float64Array): void {
  let { min, max, minAbs } = r as { min: number; max: number; minAbs: number };
  for (const v of values) {
    if (Number.isFinite(v)) {
      if (v < min) min = v;
      if (v > max) max = v;
      if (Math.abs(v) < minAbs) minAbs = Math.abs(v);
    } else if (Number.isNaN(v)) r.nan = true;
    else if (v > 0) r.posInf = true;
    else r.negInf = true;
  }
  Object.assign(r, { min, max, minAbs });
}

function finite(v: number | null): number | null {
  return v !== null && Number.isFinite(v) ? v : null;
}

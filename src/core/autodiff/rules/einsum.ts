import { add } from '../helpers';
import { UnsupportedDerivative, type DerivativeRule, type RuleContext } from '../rule';

/** An einsum equation with every ellipsis spelled out as letters, and the letters still free. */
interface Equation {
  terms: string[];
  output: string;
  free: string[];
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Parses the node's equation against the operands' shapes: '...' becomes explicit letters (an
 * operand's broadcast size-1 dimension gets a letter of its own, summed away), an implicit output
 * becomes explicit (the letters used once, in alphabetical order, after the ellipsis's).
 */
function parse(ctx: RuleContext): Equation {
  const raw = ctx.str('equation', '').replace(/\s+/g, '');
  const [lhs, rhs] = raw.split('->');
  const terms = lhs.split(',');
  if (terms.length !== ctx.node.inputs.length) throw new UnsupportedDerivative(ctx.node, `equation '${raw}' does not match ${ctx.node.inputs.length} inputs`);
  const shapes = ctx.node.inputs.map((x) => ctx.shape(x));
  const used = new Set(raw.replace(/[^A-Za-z]/g, ''));
  const free = [...LETTERS].filter((c) => !used.has(c));
  const take = () => {
    const c = free.shift();
    if (!c) throw new UnsupportedDerivative(ctx.node, 'no letters left to spell out the ellipsis');
    return c;
  };
  const ellipsisRanks = terms.map((t, i) => (t.includes('...') ? shapes[i].length - (t.length - 3) : 0));
  const width = Math.max(0, ...ellipsisRanks);
  const outShape = ctx.shape(ctx.node.outputs[0]);
  // the broadcast ellipsis, right-aligned: its size from the operands, one shared letter per position
  const sizes = Array.from({ length: width }, (_, j) => Math.max(1, ...terms.map((_, i) => {
    const r = ellipsisRanks[i];
    const k = j - (width - r);
    return k >= 0 ? shapes[i][terms[i].indexOf('...') + k] : 1;
  })));
  const shared = sizes.map(() => take());
  const spelled = terms.map((t, i) => {
    if (!t.includes('...')) return t;
    const r = ellipsisRanks[i];
    const at = t.indexOf('...');
    const letters = Array.from({ length: r }, (_, k) => {
      const j = width - r + k;
      return shapes[i][at + k] === sizes[j] ? shared[j] : take();
    });
    return t.slice(0, at) + letters.join('') + t.slice(at + 3);
  });
  let output: string;
  if (rhs !== undefined) {
    output = rhs.includes('...') ? rhs.replace('...', shared.join('')) : rhs;
  } else {
    const counts = new Map<string, number>();
    for (const c of lhs.replace(/[^A-Za-z]/g, '')) counts.set(c, (counts.get(c) ?? 0) + 1);
    output = shared.join('') + [...counts].filter(([, n]) => n === 1).map(([c]) => c).sort().join('');
  }
  if (output.length !== outShape.length) throw new UnsupportedDerivative(ctx.node, `cannot read the output of equation '${raw}'`);
  for (const t of spelled) if (new Set(t).size !== t.length) throw new UnsupportedDerivative(ctx.node, 'repeated letters in one operand (diagonals) are not covered');
  return { terms: spelled, output, free };
}

/**
 * Einsum: multilinear. Forward: one einsum per varying operand, with its tangent in place of the
 * operand and a fresh letter for the probe axis. Reverse: operand i's cotangent is the einsum of
 * the output cotangent with the other operands into operand i's letters; a letter only operand i
 * has (summed away in the forward) comes back by broadcasting.
 */
export const einsum: DerivativeRule = {
  opType: 'Einsum',
  jvp: (ctx, d) => {
    const e = parse(ctx);
    const k = e.free[0];
    if (!k) throw new UnsupportedDerivative(ctx.node, 'no letter left for the probe axis');
    const inputs = ctx.node.inputs;
    let sum: string | undefined;
    inputs.forEach((_, i) => {
      const di = d[i];
      if (!di) return;
      const terms = e.terms.map((t, j) => (j === i ? k + t : t));
      const operands = inputs.map((x, j) => (j === i ? di : x));
      sum = add(ctx.b, sum, ctx.b.op('Einsum', operands, { equation: `${terms.join(',')}->${k}${e.output}` }));
    });
    return [sum];
  },
  vjp: (ctx, [gy]) => {
    if (!gy) return ctx.node.inputs.map(() => undefined);
    const e = parse(ctx);
    const k = e.free[0];
    if (!k) throw new UnsupportedDerivative(ctx.node, 'no letter left for the probe axis');
    const b = ctx.b;
    return ctx.node.inputs.map((x, i) => {
      if (!ctx.needs(i)) return undefined;
      const others = ctx.node.inputs.filter((_, j) => j !== i);
      const otherTerms = e.terms.filter((_, j) => j !== i);
      const reachable = new Set([...e.output, ...otherTerms.join('')]);
      const target = [...e.terms[i]].filter((c) => reachable.has(c)).join('');
      const g = b.op('Einsum', [gy, ...others], { equation: `${[k + e.output, ...otherTerms].join(',')}->${k}${target}` });
      if (target.length === e.terms[i].length) return g;
      const shape = ctx.shape(x);
      const withOnes = [...e.terms[i]].map((c, a) => (reachable.has(c) ? shape[a] : 1));
      return b.op('Expand', [b.op('Reshape', [g, b.int64([-1, ...withOnes])]), b.int64([1, ...shape])]);
    });
  },
};

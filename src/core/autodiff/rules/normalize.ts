import { scalarLike } from '../helpers';
import type { RuleContext } from '../rule';

/** The standardised input and the Jacobian of standardisation, shared by the normalisation rules. */
export interface Standardized {
  /** xhat = (x - mean) / sigma over the normalised axes, a primal tensor. */
  xhat: string;
  /** dxhat for a batched dx: (v - mean(v) - xhat mean(v xhat)) / sigma, which is symmetric (also the reverse). */
  project(v: string): string;
}

/**
 * Standardises `x` over `axes` (non-negative, of the primal tensor) with variance offset `eps`, in
 * the derivative graph, and gives the (symmetric) Jacobian of the standardisation. `like` is a
 * primal tensor of x's element type (x itself unless x is made in the derivative graph).
 */
export function standardize(ctx: RuleContext, x: string, axes: number[], eps: number, like = x): Standardized {
  const b = ctx.b;
  const mean = b.op('ReduceMean', [x], { axes, keepdims: 1 });
  const centered = b.op('Sub', [x, mean]);
  const variance = b.op('ReduceMean', [b.op('Mul', [centered, centered])], { axes, keepdims: 1 });
  const sigma = b.op('Sqrt', [b.op('Add', [variance, scalarLike(ctx, like, eps)])]);
  const xhat = b.op('Div', [centered, sigma]);
  const batchedAxes = axes.map((q) => q + 1);
  const project = (v: string) => {
    const m = b.op('ReduceMean', [v], { axes: batchedAxes, keepdims: 1 });
    const mx = b.op('ReduceMean', [b.op('Mul', [v, xhat])], { axes: batchedAxes, keepdims: 1 });
    return b.op('Div', [b.op('Sub', [b.op('Sub', [v, m]), b.op('Mul', [xhat, mx])]), sigma]);
  };
  return { xhat, project };
}

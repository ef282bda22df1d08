import { add, alignRank, expandToOutput, maskOf, scalarLike, unbroadcast } from '../helpers';
import type { DerivativeRule, Derivs, RuleContext } from '../rule';

/**
 * A variadic broadcasting op whose Jacobian in input i is a per-element weight w_i (shape of the
 * output): dy = sum_i w_i dx_i, g_i = w_i gy summed back to input i's shape. `weights` gives each
 * w_i (undefined: 1), built only for inputs that need one.
 */
function variadic(opType: string, weights: (ctx: RuleContext) => (i: number) => string | undefined): DerivativeRule {
  return {
    opType,
    jvp: (ctx, d) => {
      const out = ctx.shape(ctx.node.outputs[0]);
      const w = weights(ctx);
      let sum: string | undefined;
      ctx.node.inputs.forEach((x, i) => {
        const dx = d[i];
        if (!dx) return;
        const aligned = alignRank(ctx.b, dx, ctx.shape(x), out.length);
        const wi = w(i);
        sum = add(ctx.b, sum, wi ? ctx.b.op('Mul', [aligned, wi]) : aligned);
      });
      return [expandToOutput(ctx.b, sum, ctx.node.inputs.filter((x, i) => d[i]).map((x) => ctx.shape(x)), out)];
    },
    vjp: (ctx, [gy]): Derivs => {
      if (!gy) return ctx.node.inputs.map(() => undefined);
      const out = ctx.shape(ctx.node.outputs[0]);
      const w = weights(ctx);
      return ctx.node.inputs.map((x, i) => {
        if (!ctx.needs(i)) return undefined;
        const wi = w(i);
        return unbroadcast(ctx.b, wi ? ctx.b.op('Mul', [gy, wi]) : gy, out, ctx.shape(x));
      });
    },
  };
}

/** Sum of any number of broadcasting inputs: J is the identity in each. */
export const sumRule = variadic('Sum', () => () => undefined);

/** Mean of any number of broadcasting inputs: J is 1/n times the identity in each. */
export const meanRule = variadic('Mean', (ctx) => {
  const w = scalarLike(ctx, ctx.node.outputs[0], 1 / ctx.node.inputs.length);
  return () => w;
});

/**
 * Max or Min of broadcasting inputs: the derivative follows the input that attains the output, the
 * first one on ties (a subgradient), as a mask per input.
 */
function extreme(opType: string): DerivativeRule {
  return variadic(opType, (ctx) => {
    const b = ctx.b;
    const y = ctx.node.outputs[0];
    const masks = new Map<number, string>();
    let taken: string | undefined;
    const maskOfInput = (i: number): string => {
      const hit = b.op('Equal', [ctx.node.inputs[i], y]);
      const mine = taken ? b.op('And', [hit, b.op('Not', [taken])]) : hit;
      taken = taken ? b.op('Or', [taken, hit]) : hit;
      return mine;
    };
    // masks depend on every earlier input, so build them in order up to the one asked for
    let built = 0;
    return (i: number) => {
      while (built <= i) {
        masks.set(built, maskOf(ctx, maskOfInput(built), y));
        built++;
      }
      return masks.get(i);
    };
  });
}

/** Max of broadcasting inputs. */
export const maxRule = extreme('Max');
/** Min of broadcasting inputs. */
export const minRule = extreme('Min');

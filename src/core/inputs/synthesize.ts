import type { ElementArrays, ElementType, NdArray } from '../ndarray';
import { sizeOf } from '../ndarray';
import type { Model } from '../onnx/types';
import { inferIntRange } from './intRange';
import { Rng } from './rng';
import type { ResolvedInput } from './signature';

/** How synthesized float inputs are drawn: N(0, 1), or U[0, 1) for image-like inputs. */
export type FloatDistribution = 'normal' | 'uniform';

/** One sample: a value for every model input. */
export type Sample = Record<string, NdArray>;

/** How each input of a synthesized sample was drawn, for the run facts. */
export interface InputRecipe {
  input: string;
  dtype: ElementType;
  dims: number[];
  distribution: string;
}

/** Options for {@link synthesizeSamples}. */
export interface SynthesisOptions {
  count: number;
  seed: number;
  distribution: FloatDistribution;
}

/** Boolean inputs named like this are all true (attend everywhere); other booleans are all false (mask nothing). */
const TRUE_MASK_NAME = /attention_?mask|attn_?mask|valid|keep/i;

/**
 * Draws `count` samples for the resolved inputs from a generator seeded with `seed`. Floats are
 * N(0, 1) or U[0, 1); integers are uniform over the valid range inferred from the graph (see
 * {@link inferIntRange}); boolean masks are constant (nothing masked).
 */
export function synthesizeSamples(model: Model, inputs: ResolvedInput[], options: SynthesisOptions): { samples: Sample[]; recipes: InputRecipe[] } {
  const rng = new Rng(options.seed);
  const recipes = inputs.map((input) => ({ input: input.name, dtype: input.dtype, dims: input.dims, distribution: describe(model, input, options) }));
  const samples: Sample[] = [];
  for (let s = 0; s < options.count; s++) {
    const sample: Sample = {};
    for (const input of inputs) sample[input.name] = draw(model, input, rng, options.distribution);
    samples.push(sample);
  }
  return { samples, recipes };
}

function describe(model: Model, input: ResolvedInput, options: SynthesisOptions): string {
  if (isFloat(input.dtype)) return options.distribution === 'normal' ? 'normal(0, 1)' : 'uniform[0, 1)';
  if (input.dtype === 'bool') return TRUE_MASK_NAME.test(input.name) ? 'all true' : 'all false';
  const r = inferIntRange(model, input.name);
  return `integers in [${r.low}, ${r.high}): ${r.reason}`;
}

function isFloat(t: ElementType): boolean {
  return t === 'float32' || t === 'float64' || t === 'float16';
}

function draw(model: Model, input: ResolvedInput, rng: Rng, distribution: FloatDistribution): NdArray {
  const n = sizeOf(input.dims);
  const dims = [...input.dims];
  const floatAt = () => (distribution === 'normal' ? rng.normal() : rng.uniform());
  switch (input.dtype) {
    case 'float32': return { dtype: 'float32', dims, data: Float32Array.from({ length: n }, floatAt) };
    case 'float64': return { dtype: 'float64', dims, data: Float64Array.from({ length: n }, floatAt) };
    case 'float16': return { dtype: 'float16', dims, data: Uint16Array.from({ length: n }, () => floatToHalf(floatAt())) };
    case 'bool': return { dtype: 'bool', dims, data: new Uint8Array(n).fill(TRUE_MASK_NAME.test(input.name) ? 1 : 0) };
    default: {
      const { low, high } = inferIntRange(model, input.name);
      return integers(input.dtype, dims, n, () => rng.int(low, high));
    }
  }
}

function integers(dtype: ElementType, dims: number[], n: number, next: () => number): NdArray {
  const make: { [K in ElementType]?: () => ElementArrays[K] } = {
    int64: () => BigInt64Array.from({ length: n }, () => BigInt(next())),
    uint64: () => BigUint64Array.from({ length: n }, () => BigInt(next())),
    int32: () => Int32Array.from({ length: n }, next),
    uint32: () => Uint32Array.from({ length: n }, next),
    int16: () => Int16Array.from({ length: n }, next),
    uint16: () => Uint16Array.from({ length: n }, next),
    int8: () => Int8Array.from({ length: n }, next),
    uint8: () => Uint8Array.from({ length: n }, next),
  };
  const data = make[dtype]?.();
  if (!data) throw new Error(`no integer generator for ${dtype}`);
  return { dtype, dims, data } as NdArray;
}

/** IEEE half-precision bits of `v`, rounded to nearest. */
export function floatToHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | Math.min((exp << 10) + Math.round(mant / 0x2000), 0x7c00);
}

import type { ElementArrays, ElementType, NdArray } from '../ndarray';
import { sizeOf } from '../ndarray';
import type { Model } from '../onnx/types';
import { branchConstant } from './branchValue';
import { scanGraph } from './graphScan';
import { inferIntRange, type IntRange } from './intRange';
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
  /** Why its sizes are not the defaults, when the size ladder chose them (e.g. "sequence=128: the default 16 failed ..."). */
  note?: string;
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
 * {@link inferIntRange}), except a scalar the graph compares with a constant to choose an If's
 * branch, which takes that constant (see {@link branchConstant}); boolean masks are constant
 * (nothing masked).
 */
export function synthesizeSamples(model: Model, inputs: ResolvedInput[], options: SynthesisOptions): { samples: Sample[]; recipes: InputRecipe[] } {
  const rng = new Rng(options.seed);
  const scan = inputs.some((i) => !isFloat(i.dtype) && i.dtype !== 'bool' && sizeOf(i.dims) === 1) ? scanGraph(model) : undefined;
  const ints = new Map(inputs.filter((i) => !isFloat(i.dtype) && i.dtype !== 'bool').map((i) => [i.name, intSource(model, i, scan)]));
  const recipes = inputs.map((input) => ({ input: input.name, dtype: input.dtype, dims: input.dims, distribution: describe(input, options, ints.get(input.name)) }));
  const samples: Sample[] = [];
  for (let s = 0; s < options.count; s++) {
    const sample: Sample = {};
    for (const input of inputs) sample[input.name] = draw(input, rng, options.distribution, ints.get(input.name));
    samples.push(sample);
  }
  return { samples, recipes };
}

/** Where an integer input's values come from: a range, or the one value that selects a branch. */
type IntSource = IntRange | { value: number; reason: string };

function intSource(model: Model, input: ResolvedInput, scan: ReturnType<typeof scanGraph> | undefined): IntSource {
  const branch = scan && sizeOf(input.dims) === 1 ? branchConstant(scan, input.name) : undefined;
  const unsigned = input.dtype.startsWith('uint');
  return branch && !(unsigned && branch.value < 0) ? branch : inferIntRange(model, input.name);
}

function describe(input: ResolvedInput, options: SynthesisOptions, ints: IntSource | undefined): string {
  if (isFloat(input.dtype)) return options.distribution === 'normal' ? 'normal(0, 1)' : 'uniform[0, 1)';
  if (input.dtype === 'bool') return TRUE_MASK_NAME.test(input.name) ? 'all true' : 'all false';
  if (!ints) throw new Error(`no integer source for ${input.name}`);
  if ('value' in ints) return `${ints.value}: ${ints.reason}`;
  return `integers in [${ints.low}, ${ints.high}): ${ints.reason}`;
}

function isFloat(t: ElementType): boolean {
  return t === 'float32' || t === 'float64' || t === 'float16';
}

function draw(input: ResolvedInput, rng: Rng, distribution: FloatDistribution, ints: IntSource | undefined): NdArray {
  const n = sizeOf(input.dims);
  const dims = [...input.dims];
  const floatAt = () => (distribution === 'normal' ? rng.normal() : rng.uniform());
  switch (input.dtype) {
    case 'float32': return { dtype: 'float32', dims, data: Float32Array.from({ length: n }, floatAt) };
    case 'float64': return { dtype: 'float64', dims, data: Float64Array.from({ length: n }, floatAt) };
    case 'float16': return { dtype: 'float16', dims, data: Uint16Array.from({ length: n }, () => floatToHalf(floatAt())) };
    case 'bool': return { dtype: 'bool', dims, data: new Uint8Array(n).fill(TRUE_MASK_NAME.test(input.name) ? 1 : 0) };
    default: {
      if (!ints) throw new Error(`no integer source for ${input.name}`);
      if ('value' in ints) return integers(input.dtype, dims, n, () => ints.value);
      const { low, high } = ints;
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

import { gramMatrix } from '../linalg/svd';
import { DataType, type Model } from '../onnx/types';
import type { ExecutionProviderPreference, RunnerFactory, TensorRunner } from '../ports';
import type { GramFunction } from './jacobian';

/** A float64 MatMul model for A of any shape [k, n]: G = A A^T (wide) or G = A^T A (tall), the transpose taken inside. */
function gramModel(tall: boolean): Model {
  const product = tall ? ['at', 'a'] : ['a', 'at'];
  const side = tall ? 'n' : 'k';
  return {
    irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 'gradient-doctor', producerVersion: '', domain: '', modelVersion: 0, docString: '', metadata: {}, passthrough: {},
    graph: {
      name: 'gram',
      nodes: [
        { name: 't', opType: 'Transpose', domain: '', inputs: ['a'], outputs: ['at'], attributes: [{ name: 'perm', type: 'ints', value: [1, 0] }], metadata: {} },
        { name: 'mm', opType: 'MatMul', domain: '', inputs: product, outputs: ['g'], attributes: [], metadata: {} },
      ],
      initializers: new Map(), valueInfo: [], metadata: {}, passthrough: {},
      inputs: [{ name: 'a', type: { kind: 'tensor', elemType: DataType.DOUBLE, shape: ['k', 'n'] } }],
      outputs: [{ name: 'g', type: { kind: 'tensor', elemType: DataType.DOUBLE, shape: [side, side] } }],
    },
  };
}

/**
 * The Gram matrices of assembled Jacobians computed by onnxruntime's float64 MatMul (its threaded
 * kernels are an order of magnitude faster than a JavaScript loop): A A^T for a wide matrix, A^T A
 * for a tall one (its session made on first use), read without copies; falls back to JavaScript
 * when a session cannot be made.
 */
export async function createOrtGram(createRunner: RunnerFactory, ep: ExecutionProviderPreference): Promise<{ gram: GramFunction; dispose: () => Promise<void> }> {
  const make = async (tall: boolean): Promise<TensorRunner | undefined> => {
    try {
      return await createRunner(gramModel(tall), { executionProvider: ep === 'cuda' ? 'cuda' : 'cpu' });
    } catch {
      return undefined;
    }
  };
  const wide = await make(false);
  let tall: Promise<TensorRunner | undefined> | undefined;
  const gram: GramFunction = async (a, m, n) => {
    const runner = m > n && wide ? await (tall ??= make(true)) : wide;
    if (!runner) return gramMatrix(a, m, n);
    const out = await runner.run({ a: { dtype: 'float64', dims: [m, n], data: a } });
    return out.g.data as Float64Array;
  };
  return {
    gram,
    dispose: async () => {
      await wide?.dispose();
      await (await tall)?.dispose();
    },
  };
}

import { gramMatrix } from '../linalg/svd';
import { DataType, type Model } from '../onnx/types';
import type { ExecutionProviderPreference, RunnerFactory } from '../ports';
import type { GramFunction } from './jacobian';

/** A float64 MatMul model: G = A A^T for A of any shape [k, n]. */
function gramModel(): Model {
  return {
    irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 'gradient-doctor', producerVersion: '', domain: '', modelVersion: 0, docString: '', metadata: {}, passthrough: {},
    graph: {
      name: 'gram',
      nodes: [
        { name: 't', opType: 'Transpose', domain: '', inputs: ['a'], outputs: ['at'], attributes: [{ name: 'perm', type: 'ints', value: [1, 0] }], metadata: {} },
        { name: 'mm', opType: 'MatMul', domain: '', inputs: ['a', 'at'], outputs: ['g'], attributes: [], metadata: {} },
      ],
      initializers: new Map(), valueInfo: [], metadata: {}, passthrough: {},
      inputs: [{ name: 'a', type: { kind: 'tensor', elemType: DataType.DOUBLE, shape: ['k', 'n'] } }],
      outputs: [{ name: 'g', type: { kind: 'tensor', elemType: DataType.DOUBLE, shape: ['k', 'k'] } }],
    },
  };
}

/**
 * The Gram matrices of assembled Jacobians computed by onnxruntime's float64 MatMul (its threaded
 * kernels are an order of magnitude faster than a JavaScript loop); falls back to JavaScript when
 * the session cannot be made.
 */
export async function createOrtGram(createRunner: RunnerFactory, ep: ExecutionProviderPreference): Promise<{ gram: GramFunction; dispose: () => Promise<void> }> {
  let runner: Awaited<ReturnType<RunnerFactory>> | undefined;
  try {
    runner = await createRunner(gramModel(), { executionProvider: ep === 'cuda' ? 'cuda' : 'cpu' });
  } catch {
    runner = undefined;
  }
  const gram: GramFunction = async (a, m, n) => {
    if (!runner) return gramMatrix(a, m, n);
    let input = a;
    let rows = m;
    let cols = n;
    if (m > n) {
      input = new Float64Array(m * n);
      for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) input[c * m + r] = a[r * n + c];
      rows = n;
      cols = m;
    }
    const out = await runner.run({ a: { dtype: 'float64', dims: [rows, cols], data: input } });
    return Float64Array.from(out.g.data as Float64Array);
  };
  return { gram, dispose: async () => runner?.dispose() };
}

import { buildVjpModel } from '../autodiff/derivative';
import { DerivativeRunner, ForwardPass } from '../autodiff/probe';
import { DoctorError } from '../errors';
import type { Sample } from '../inputs/synthesize';
import { Rng } from '../inputs/rng';
import type { NdArray } from '../ndarray';
import { float32Tensor } from '../onnx/tensorData';
import { defaultOpset, type Graph, type Model, type Node, type Tensor } from '../onnx/types';
import { validateGraph } from '../onnx/validate';
import type { RunnerFactory, TensorRunner } from '../ports';
import type { AnalyzeOptions } from './analyze';
import { lossGradient, resolvedLoss } from './gradientFlow';

/** Exact Hessian-vector products at a fixed point, and the sessions behind them. */
export interface ExactHvp {
  hvp(v: Float64Array): Promise<Float64Array>;
  dispose(): Promise<void>;
}

/**
 * Exact Hessian-vector products by forward-over-reverse: one graph computes the loss gradient
 * g(theta) (the model, the loss's gradient at the output, and the reverse-mode derivative nodes),
 * and its forward-mode derivative in the parameters, H v = d g(theta) [v], is one more derivative
 * model. No finite differences, so kinks (ReLU) are no obstacle: this is the Hessian autograd
 * computes. Throws 'unsupported' when an op of the reverse graph has no forward rule.
 */
export async function createExactHvp(
  paramModel: Model,
  order: number[],
  sample: Sample,
  paramFeeds: Record<string, NdArray>,
  params: string[],
  outName: string,
  options: AnalyzeOptions,
  createRunner: RunnerFactory,
): Promise<ExactHvp> {
  const opset = defaultOpset(paramModel);
  if (opset < 13 || opset > 17) throw new DoctorError('unsupported', `exact Hessian products need opset 13 to 17 (the model has ${opset})`);
  const ep = options.executionProvider;
  const feeds = { ...sample, ...paramFeeds };
  const names = paramModel.graph.nodes.flatMap((n) => n.outputs).filter((o) => o.length > 0);
  const first = await runAll(paramModel, feeds, names, createRunner, ep);
  const forward = new ForwardPass(paramModel, first);
  const y = forward.values.get(outName);
  if (!y) throw new DoctorError('runtime', `no value for output '${outName}'`);
  const dm = buildVjpModel(paramModel, order, forward, { sources: params, targets: [outName] }, 17, [], new Set(params));

  // dL/dy inside the graph, so that its dependence on theta is differentiated too
  const lossNodes: Node[] = [];
  const lossInits = new Map<string, Tensor>();
  const node = (opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = []): void => {
    lossNodes.push({ name: `loss/${opType}_${lossNodes.length}`, opType, domain: '', inputs, outputs, attributes, metadata: {} });
  };
  const gy = 'loss/grad';
  const lossKind = resolvedLoss(options);
  const loss = lossGradient(lossKind, y, new Rng(options.samples.seed), options.labels);
  const onehot = () => {
    const hot = new Float64Array(loss.gradient.length);
    const [batch, classes] = y.dims;
    const inner = hot.length / (batch * classes);
    (loss.labels ?? []).forEach((label, r) => {
      hot[(Math.floor(r / inner) * classes + label) * inner + (r % inner)] = 1;
    });
    return hot;
  };
  // the reduction's factor: 1 / the predictions a mean averages over
  const rows = loss.labels?.length ?? y.dims[0] ?? 1;
  const factor = lossKind.reduction === 'sum' ? 1 : 1 / Math.max(lossKind.kind === 'sum' || lossKind.kind === 'mse' ? y.dims[0] ?? 1 : rows, 1);
  lossInits.set('loss/factor', float32Tensor('loss/factor', [], Float64Array.of(factor)));
  if (lossKind.kind === 'sum') {
    lossInits.set(gy, float32Tensor(gy, y.dims, loss.gradient));
  } else if (lossKind.kind === 'mse') {
    node('Mul', [outName, 'loss/factor'], [gy]);
  } else if (lossKind.kind === 'ce') {
    lossInits.set('loss/onehot', float32Tensor('loss/onehot', y.dims, onehot()));
    node('Softmax', [outName], ['loss/softmax'], [{ name: 'axis', type: 'int', value: 1 }]);
    node('Sub', ['loss/softmax', 'loss/onehot'], ['loss/raw']);
    node('Mul', ['loss/raw', 'loss/factor'], [gy]);
  } else {
    // nll of probabilities: dL/dy = -factor onehot / y at the labels, 0 elsewhere (dividing by 1 there, never by 0)
    const hot = onehot();
    lossInits.set('loss/onehot', float32Tensor('loss/onehot', y.dims, hot));
    lossInits.set('loss/offlabel', float32Tensor('loss/offlabel', y.dims, hot.map((x) => 1 - x)));
    lossInits.set('loss/negonehot', float32Tensor('loss/negonehot', y.dims, hot.map((x) => -factor * x)));
    node('Mul', [outName, 'loss/onehot'], ['loss/atlabel']);
    node('Add', ['loss/atlabel', 'loss/offlabel'], ['loss/denominator']);
    node('Div', ['loss/negonehot', 'loss/denominator'], [gy]);
  }
  lossInits.set('loss/axis0', { name: 'loss/axis0', dataType: 7, dims: [1], raw: new Uint8Array(new BigInt64Array([0n]).buffer) });
  node('Unsqueeze', [gy, 'loss/axis0'], [dm.derivativeInputs[0]]);

  const graph: Graph = {
    ...paramModel.graph,
    nodes: [...paramModel.graph.nodes, ...lossNodes, ...dm.model.graph.nodes],
    initializers: new Map([...paramModel.graph.initializers, ...lossInits, ...dm.model.graph.initializers]),
    outputs: dm.model.graph.outputs,
  };
  const combined: Model = { ...paramModel, opsetImports: [{ domain: '', version: 17 }, ...paramModel.opsetImports.filter((o) => o.domain !== '' && o.domain !== 'ai.onnx')], graph };
  const combinedOrder = validateGraph(graph);
  const allNames = graph.nodes.flatMap((n) => n.outputs).filter((o) => o.length > 0);
  const values = await runAll(combined, feeds, allNames, createRunner, ep);
  const runner = new DerivativeRunner(new ForwardPass(combined, values), combinedOrder, 17, createRunner, ep, new Set(params));
  const sizes = params.map((p) => (paramFeeds[p]?.data.length ?? 0));
  const span = { sources: params, targets: dm.derivativeOutputs };
  return {
    async hvp(v) {
      // views, not copies: the runner only reads them (into its float32 feeds)
      let off = 0;
      const parts = sizes.map((n) => {
        const part = v.subarray(off, off + n);
        off += n;
        return [part];
      });
      const out = await runner.jvp(span, parts);
      const total = sizes.reduce((a, b) => a + b, 0);
      const hv = new Float64Array(total);
      let at = 0;
      for (const t of out) {
        hv.set(t[0], at);
        at += t[0].length;
      }
      return hv;
    },
    dispose: () => runner.dispose(),
  };
}

async function runAll(model: Model, feeds: Record<string, NdArray>, names: string[], createRunner: RunnerFactory, ep: AnalyzeOptions['executionProvider']): Promise<Map<string, NdArray>> {
  let runner: TensorRunner | undefined;
  try {
    runner = await createRunner(model, { executionProvider: ep, extraOutputs: names });
    const out = await runner.run(feeds);
    return new Map([...Object.entries(feeds), ...Object.entries(out)]);
  } finally {
    await runner?.dispose();
  }
}

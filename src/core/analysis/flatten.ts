import { constantsToInitializers, hasControlFlow, inlineControlFlow, type InlinedNode } from '../autodiff/controlFlow';
import { ForwardPass } from '../autodiff/probe';
import type { Sample } from '../inputs/synthesize';
import { toNumbers } from '../ndarray';
import type { Model } from '../onnx/types';
import { validateGraph } from '../onnx/validate';
import type { ExecutionProviderPreference, RunnerFactory } from '../ports';

/** Rounds of (forward pass, inline): each round reaches one more level of nested control flow. */
const MAX_ROUNDS = 4;

/**
 * The model as it runs at the sample, for the analysis: each If replaced by the branch it takes,
 * each Loop by the iterations it runs and each Scan by its steps (repeated while inlining reveals
 * nested control flow), then float Constant nodes holding weights turned into initializers, so the
 * subgraphs' layers and weights and the Constant-stored weights count as the model's own. What
 * happened to each control-flow node (or why it stayed) is returned for the report.
 */
export async function flattenForAnalysis(
  model: Model,
  order: number[],
  sample: Sample,
  createRunner: RunnerFactory,
  ep: ExecutionProviderPreference,
): Promise<{ model: Model; order: number[]; controlFlow: InlinedNode[] }> {
  const outcome = new Map<string, InlinedNode>();
  for (let round = 0; round < MAX_ROUNDS && hasControlFlow(model); round++) {
    const forward = await ForwardPass.run(model, sample, createRunner, ep);
    const r = inlineControlFlow(model, {
      value: (t) => {
        const v = forward.values.get(t);
        return v ? toNumbers(v) : undefined;
      },
      shape: (t) => forward.shape(t),
    });
    for (const n of r.report) outcome.set(n.node, n);
    if (!r.changed) break;
    model = r.model;
    order = validateGraph(model.graph);
  }
  const constants = constantsToInitializers(model);
  if (constants.moved.length > 0) {
    model = constants.model;
    order = validateGraph(model.graph);
  }
  return { model, order, controlFlow: [...outcome.values()] };
}

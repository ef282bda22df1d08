import type { RunnerFactory } from '../src/core/ports';
import { createOrtRunner } from '../src/runtime/ort';

/** onnxruntime sessions that, with GD_SESSIONS=1 in the environment, print each one's creation time, nodes and options on stderr. */
export const timedOrtRunner: RunnerFactory = async (model, options) => {
  const t = performance.now();
  const r = await createOrtRunner(model, options);
  if (process.env.GD_SESSIONS) console.error(`session ${(performance.now() - t).toFixed(0)} ms, ${model.graph.nodes.length} nodes, ${model.graph.initializers.size} initializers${options?.runOnce ? ', run once' : ''}`);
  return r;
};

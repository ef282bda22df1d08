import type { InspectResult } from '../../src/core/inspect';
import { formatShape } from '../../src/core/onnx/summary';
import { el, table } from './dom';

/** Renders the model summary into `root`, replacing what was there. */
export function renderSummary(root: HTMLElement, r: InspectResult): void {
  const s = r.summary;
  root.replaceChildren();
  root.append(el('h1', r.file.split(/[\\/]/).pop() ?? r.file));
  const facts = el('dl', undefined, 'facts');
  const fact = (k: string, v: string) => facts.append(el('dt', k), el('dd', v));
  fact('Producer', `${s.producer || 'unknown'} · IR ${s.irVersion} · opset ${s.opset}`);
  fact('Parameters', s.parameterCount.toLocaleString('en-US'));
  fact('Nodes', String(s.nodeCount));
  if (r.executionProvider) fact('Execution provider', `${r.executionProvider.used.toUpperCase()}${r.executionProvider.fallbackReason ? ` (${r.executionProvider.fallbackReason})` : ''}`);
  fact('onnxruntime', r.ortVersion);
  root.append(facts);
  root.append(table(['Input', 'Type', 'Shape', 'Sample'], s.inputs.map((i) => {
    const recipe = r.sampleInputs.find((x) => x.input === i.name);
    return [i.name, i.dtype, formatShape(i.shape), recipe ? `${formatShape(recipe.dims)} ${recipe.distribution}` : ''];
  }), 'Inputs'));
  root.append(table(['Output', 'Type', 'Shape'], s.outputs.map((o) => [o.name, o.dtype, formatShape(o.shape)]), 'Outputs'));
  root.append(table(['Operator', 'Nodes'], s.opHistogram.map((h) => [h.opType, String(h.count)]), 'Operators'));
  if (r.forwardError) root.append(el('h2', 'Forward pass failed'), el('p', r.forwardError, 'error'));
}

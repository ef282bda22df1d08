import type { InspectResult } from '../../src/core/inspect';
import { formatShape } from '../../src/core/onnx/summary';

/** Builds an element; text is set with textContent, so model data is never parsed as HTML. */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function table(headers: string[], rows: string[][], caption: string): HTMLTableElement {
  const t = el('table');
  t.append(el('caption', caption));
  const head = el('tr');
  for (const h of headers) head.append(el('th', h));
  t.append(el('thead'));
  t.tHead?.append(head);
  const body = el('tbody');
  for (const r of rows) {
    const tr = el('tr');
    for (const c of r) tr.append(el('td', c));
    body.append(tr);
  }
  t.append(body);
  return t;
}

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
  fact('Execution provider', `${r.executionProvider.used.toUpperCase()}${r.executionProvider.fallbackReason ? ` (${r.executionProvider.fallbackReason})` : ''}`);
  fact('onnxruntime', r.ortVersion);
  root.append(facts);
  root.append(table(['Input', 'Type', 'Shape', 'Sample'], s.inputs.map((i) => {
    const recipe = r.sampleInputs.find((x) => x.input === i.name);
    return [i.name, i.dtype, formatShape(i.shape), recipe ? `${formatShape(recipe.dims)} ${recipe.distribution}` : ''];
  }), 'Inputs'));
  root.append(table(['Output', 'Type', 'Shape'], s.outputs.map((o) => [o.name, o.dtype, formatShape(o.shape)]), 'Outputs'));
  root.append(table(['Operator', 'Nodes'], s.opHistogram.map((h) => [h.opType, String(h.count)]), 'Operators'));
}

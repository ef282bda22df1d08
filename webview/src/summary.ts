import type { InspectResult } from '../../src/core/inspect';
import { formatShape } from '../../src/core/onnx/summary';
import { batchNormLines, bindingSource, dimensionLabel } from '../../src/core/report/inspectText';
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
  // a size ladder's note is its bindings' reason, shown once in the list of sizes below
  const reasons = new Set(r.dimensionBindings.flatMap((b) => (b.source === 'ladder' && b.reason ? [b.reason] : [])));
  root.append(table(['Input', 'Type', 'Shape', 'Sample'], s.inputs.map((i) => {
    const recipe = r.sampleInputs.find((x) => x.input === i.name);
    const note = recipe?.note && !reasons.has(recipe.note) ? ` · ${recipe.note}` : '';
    return [i.name, i.dtype, formatShape(i.shape), recipe ? `${formatShape(recipe.dims)} ${recipe.distribution}${note}` : ''];
  }), 'Inputs'));
  if (r.dimensionBindings.length) {
    // a list, as the CLI prints them: each size, where it comes from, and a ladder's reason once
    const list = el('ul', undefined, 'dimensions');
    list.setAttribute('aria-label', 'Sizes of symbolic dimensions');
    const said = new Set<string>();
    for (const b of r.dimensionBindings) {
      const reason = b.source === 'ladder' ? b.reason : undefined;
      const item = el('li', `${dimensionLabel(b)} = ${b.value} (${bindingSource(b)}${reason && said.has(reason) ? ', as above' : ''})`);
      if (reason && !said.has(reason)) item.append(el('div', reason, 'muted'));
      if (reason) said.add(reason);
      list.append(item);
    }
    root.append(list);
  }
  root.append(table(['Output', 'Type', 'Shape'], s.outputs.map((o) => [o.name, o.dtype, formatShape(o.shape)]), 'Outputs'));
  // BatchNorm at default statistics, folded by the exporter, Dropout: as the CLI prints them
  const bn = batchNormLines(r);
  if (bn.length) {
    const list = el('ul', undefined, 'batchnorm');
    for (const line of bn) list.append(el('li', line));
    root.append(el('h2', 'BatchNorm'), list);
  }
  root.append(table(['Operator', 'Nodes'], s.opHistogram.map((h) => [h.opType, String(h.count)]), 'Operators'));
  if (r.forwardError) root.append(el('h2', 'Forward pass failed'), el('p', r.forwardError, 'error'));
}

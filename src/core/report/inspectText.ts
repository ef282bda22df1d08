import { PRESERVE_EXPORT } from '../diagnosis/rules/batchNorm';
import type { InspectResult } from '../inspect';
import type { DimensionBinding } from '../inputs/signature';
import { formatShape } from '../onnx/summary';

/** The model summary as text for a terminal. */
export function formatInspect(r: InspectResult): string {
  const s = r.summary;
  const lines: string[] = [];
  const ep = r.executionProvider;
  lines.push(`Model       ${r.file}`);
  lines.push(`Size        ${formatBytes(r.fileBytes)}${s.externalDataFiles.length ? ` + external data (${s.externalDataFiles.join(', ')})` : ''}`);
  lines.push(`sha256      ${r.sha256}`);
  lines.push(`Producer    ${s.producer || 'unknown'} · IR ${s.irVersion} · opset ${s.opset}${extraOpsets(s.opsetImports)}`);
  lines.push(`Graph       ${s.graphName || '(unnamed)'}: ${s.nodeCount} nodes, ${s.initializerCount} initializers`);
  lines.push(`Parameters  ${s.parameterCount.toLocaleString('en-US')} (${formatBytes(s.initializerBytes)} of weights)`);
  if (ep) lines.push(`Runs on     ${ep.used.toUpperCase()} (onnxruntime-node ${r.ortVersion})${ep.fallbackReason ? `; CUDA not used: ${ep.fallbackReason}` : ''}`);
  lines.push('');
  lines.push('Inputs');
  const reasons = new Set(r.dimensionBindings.flatMap((b) => (b.source === 'ladder' && b.reason ? [b.reason] : [])));
  for (const i of s.inputs) {
    const recipe = r.sampleInputs.find((x) => x.input === i.name);
    lines.push(`  ${i.name}  ${i.dtype} ${formatShape(i.shape)}${recipe ? `  sample ${formatShape(recipe.dims)}: ${recipe.distribution}` : ''}`);
    // a ladder's note is its bindings' reason, printed with them below
    if (recipe?.note && !reasons.has(recipe.note)) lines.push(`    ${recipe.note}`);
  }
  const said = new Set<string>();
  for (const b of r.dimensionBindings) {
    const reason = b.source === 'ladder' ? b.reason : undefined;
    lines.push(`  · ${dimensionLabel(b)} = ${b.value} (${bindingSource(b)}${reason && said.has(reason) ? ', as above' : ''})`);
    if (reason && !said.has(reason)) lines.push(`    ${reason}`);
    if (reason) said.add(reason);
  }
  lines.push('Outputs');
  for (const o of s.outputs) {
    const ran = r.outputs.find((x) => x.name === o.name);
    lines.push(`  ${o.name}  ${o.dtype} ${formatShape(o.shape)}${ran ? `  ran: ${formatShape(ran.dims)}${ran.finite ? '' : ' — contains NaN or Inf!'}` : ''}`);
  }
  if (r.forwardMs !== undefined) lines.push(`Forward pass ${r.forwardMs.toFixed(1)} ms on one sample`);
  const bn = batchNormLines(r);
  if (bn.length) lines.push('', 'BatchNorm', ...bn.map((l) => `  ${l}`));
  lines.push('');
  lines.push('Operators');
  const width = Math.max(...s.opHistogram.map((h) => h.opType.length), 4);
  for (const h of s.opHistogram) lines.push(`  ${h.opType.padEnd(width)}  ${String(h.count).padStart(5)}`);
  if (r.forwardError) lines.push('', 'Forward pass failed', `  ${r.forwardError}`);
  return lines.join('\n');
}

/** What the model holds of BatchNorm and Dropout and how `analyze` treats it (README "BatchNorm at initialisation"), a line each; none when it has none. */
export function batchNormLines(r: Pick<InspectResult, 'batchNorm' | 'batchNormSamples'>): string[] {
  const bn = r.batchNorm;
  if (!bn) return [];
  const list = (names: string[]) => (names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`);
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const facts: string[] = [];
  if (bn.defaultStatistics.length) facts.push(`${plural(bn.defaultStatistics.length, 'BatchNorm node', 'BatchNorm nodes')} with running statistics at their defaults (mean 0, variance 1), as exported at initialisation: ${list(bn.defaultStatistics)}`);
  if (bn.trainedStatistics.length) facts.push(`${plural(bn.trainedStatistics.length, 'BatchNorm node', 'BatchNorm nodes')} with trained running statistics: ${list(bn.trainedStatistics)}`);
  if (bn.folded.length) {
    const initial = bn.folded.filter((f) => f.atDefaults).length;
    facts.push(`BatchNorm folded into ${plural(bn.folded.length, 'convolution', 'convolutions')} by the exporter (eval-mode export)${initial === bn.folded.length ? `, at ${bn.folded.length === 1 ? 'its' : 'their'} initial statistics` : initial ? `, ${initial} at their initial statistics` : ''}: ${list(bn.folded.map((f) => f.node))}`);
  }
  if (bn.dropout.length) facts.push(`${plural(bn.dropout.length, 'Dropout node', 'Dropout nodes')}, analysed as the identity (as in inference): ${list(bn.dropout)}`);
  const lines = [...facts];
  if (bn.defaultStatistics.length || bn.trainedStatistics.length || bn.folded.length) {
    const semantics = bn.mode === 'batch'
      ? `batch statistics of ${r.batchNormSamples !== undefined ? `${r.batchNormSamples} samples` : 'the sample files'}${bn.folded.length ? ', folded BatchNorm re-inserted' : ''}`
      : `running statistics${bn.folded.length ? ': the figures describe the network without normalisation' : ''}`;
    // under auto the facts above are the reason; a requested mode says it was requested
    lines.push(`analyze uses ${semantics} (--batchnorm ${bn.requested}${bn.requested === 'auto' ? '' : `: ${bn.reason}`}; README "BatchNorm at initialisation")`);
  }
  if (bn.folded.length) lines.push(`to keep BatchNorm in the graph, export with ${PRESERVE_EXPORT}`);
  return lines;
}

/** A symbolic dimension as the inspect views name it: "sequence of x", or the `input:axis` key that sets an unnamed one ("x:1"). */
export function dimensionLabel(b: DimensionBinding): string {
  return b.symbol !== null ? `${b.symbol} of ${b.input}` : b.key;
}

/** Where a dimension's size comes from, in a few words: the user, the default (and how to set it), or the size ladder (whose reason the caller prints). */
export function bindingSource(b: DimensionBinding): string {
  if (b.source === 'override') return 'set by you';
  if (b.source === 'ladder') return 'chosen by the size ladder';
  return `default; set it with --dim ${b.key}=SIZE or the gradientDoctor.dimensions setting`;
}

function extraOpsets(imports: Array<{ domain: string; version: number }>): string {
  const extra = imports.filter((o) => o.domain !== '' && o.domain !== 'ai.onnx');
  return extra.length ? ` (+ ${extra.map((o) => `${o.domain} v${o.version}`).join(', ')})` : '';
}

/** "1.2 MB" */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

import type { InspectResult } from '../inspect';
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
  for (const i of s.inputs) {
    const recipe = r.sampleInputs.find((x) => x.input === i.name);
    lines.push(`  ${i.name}  ${i.dtype} ${formatShape(i.shape)}${recipe ? `  sample ${formatShape(recipe.dims)}: ${recipe.distribution}` : ''}`);
  }
  for (const b of r.dimensionBindings) {
    lines.push(`  · ${b.symbol ?? `unknown axis ${b.axis}`} of ${b.input} = ${b.value} (${b.source === 'override' ? 'set by you' : 'default; set it with --dim or the gradientDoctor.dimensions setting'})`);
  }
  lines.push('Outputs');
  for (const o of s.outputs) {
    const ran = r.outputs.find((x) => x.name === o.name);
    lines.push(`  ${o.name}  ${o.dtype} ${formatShape(o.shape)}${ran ? `  ran: ${formatShape(ran.dims)}${ran.finite ? '' : ' — contains NaN or Inf!'}` : ''}`);
  }
  if (r.forwardMs !== undefined) lines.push(`Forward pass ${r.forwardMs.toFixed(1)} ms on one sample`);
  lines.push('');
  lines.push('Operators');
  const width = Math.max(...s.opHistogram.map((h) => h.opType.length), 4);
  for (const h of s.opHistogram) lines.push(`  ${h.opType.padEnd(width)}  ${String(h.count).padStart(5)}`);
  if (r.forwardError) lines.push('', 'Forward pass failed', `  ${r.forwardError}`);
  return lines.join('\n');
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

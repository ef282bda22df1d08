import { firstSentence, memberFindings } from '../diagnosis/group';
import { findingNode } from '../sourceMap';
import type { AnalysisReport, Finding, LayerReport, ParameterReport } from './types';

/**
 * The per-node figures as a Netron attachment: open the model in Netron, then open this file
 * (File > Open, or drop it on the window) and every node, edge and weight shows its figures under
 * "Metrics" and its findings under "Metadata" in the sidebar.
 *
 * The format is Netron's own (source/view.js, `metadata.Attachment`): a JSON object whose
 * `signature` is "netron:attachment", with `metadata` and `metrics` lists of
 * `{ kind, target, name, value }`. `kind` is model, graph, node, value (an edge: a tensor between
 * nodes) or tensor (a weight); `target` is the node's, value's or initializer's name in the ONNX
 * graph (the model's is ''). Netron keys entries by kind and target and, within one, by name.
 * Unnamed ONNX nodes cannot be targeted; their figures are left out and counted in the model's metadata.
 */
export interface NetronAttachment {
  signature: 'netron:attachment';
  metadata: NetronEntry[];
  metrics: NetronEntry[];
}

export interface NetronEntry {
  kind: 'model' | 'graph' | 'node' | 'value' | 'tensor';
  target: string;
  name: string;
  value: string | number;
}

/** A figure for display: 4 significant digits, a number still (so Netron could colour by it). */
function figure(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(4)) : x;
}

/** A finding's text on its node: what it says there, with its figure, the group it belongs to (when it is a member) and its fix. */
function findingText(f: Finding, group?: Finding): string {
  const measured = f.measured !== undefined ? ` (${f.measuredName ?? 'measured'} ${figure(f.measured)}${f.threshold !== undefined ? `, threshold ${figure(f.threshold)}` : ''})` : '';
  const of = group?.members ? ` In the group: ${firstSentence(group.message)}` : '';
  return `${f.severity} [${f.rule}] ${f.message}${measured}${of}${f.fix ? ` Fix: ${f.fix}` : ''}`;
}

/** How a layer's Jacobian figures were obtained, and their error bars when they are estimates. */
function methodText(l: LayerReport): string {
  const j = l.jacobian;
  if (j.sigmaMax === null && j.rmsGain === null) return `not computed: ${j.reason ?? j.method}`;
  if (j.method === 'exact') return `exact (dense SVD of the assembled ${j.outputSize ?? '?'}x${j.inputSize ?? '?'} Jacobian)`;
  const e = j.errors;
  const bars = e ? `; error bars ±${figure(e.sigmaMax)} (sigma_max), ±${figure(e.sigmaMin)} (sigma_min), ±${figure(e.rmsGain)} (rms_gain)` : '';
  return `${j.method} estimate${bars}${j.note ? `; ${j.note}` : ''}`;
}

/** Builds the attachment from a report. Names are stable: they are what a Netron user sees. */
export function reportNetron(r: AnalysisReport): NetronAttachment {
  const metadata: NetronEntry[] = [];
  const metrics: NetronEntry[] = [];
  const seen = new Set<string>();
  const add = (list: NetronEntry[], kind: NetronEntry['kind'], target: string, name: string, value: string | number | null | undefined) => {
    if (value === null || value === undefined) return;
    if (kind !== 'model' && !target) return;
    const key = `${list === metrics ? 'metrics' : 'metadata'}:${kind}::${target}\n${name}`;
    if (seen.has(key)) return; // Netron keeps one entry per name; a tensor shared by two layers keeps the first
    seen.add(key);
    list.push({ kind, target, name, value: typeof value === 'number' ? figure(value) : value });
  };

  const v = r.verdict;
  add(metadata, 'model', '', 'gradient-doctor', `${r.tool.version}: figures by Gradient Doctor, per node under Metrics, findings under Metadata`);
  if (v) add(metadata, 'model', '', 'verdict', v.headline);
  add(metadata, 'model', '', 'analysis', `${r.run.executionProvider.toUpperCase()}, ${r.run.samples} ${r.run.sampleSource} sample${r.run.samples === 1 ? '' : 's'}, seed ${r.run.seed}, loss ${r.run.loss}, granularity ${r.run.granularity}, model sha256 ${r.model.sha256}`);
  const unnamed = r.layers.filter((l) => l.nodes.some((n) => !n)).length;
  if (unnamed) add(metadata, 'model', '', 'unnamed nodes', `${unnamed} layer${unnamed > 1 ? 's have' : ' has'} unnamed nodes, which Netron cannot be pointed at: their figures are in the report only`);
  const e2e = r.endToEnd;
  add(metrics, 'model', '', 'e2e_sigma_max', e2e.sigmaMax);
  add(metrics, 'model', '', 'e2e_rms_gain', e2e.rmsGain);
  add(metrics, 'model', '', 'lyapunov_exp', e2e.lyapunovExponent);
  add(metrics, 'model', '', 'hessian_lambda', r.curvature.hessianMaxEigenvalue);
  add(metrics, 'model', '', 'max_stable_lr', r.curvature.maxStableLearningRate);
  add(metadata, 'model', '', 'end_to_end', e2e.sigmaMax !== null ? `${e2e.method}${e2e.method === 'exact' ? '' : ' estimate'}` : `not computed: ${e2e.reason ?? e2e.method}`);
  const cv = r.curvature;
  add(metadata, 'model', '', 'curvature', cv.hessianMaxEigenvalue !== null ? `hessian_lambda${cv.error !== undefined ? ` ± ${figure(cv.error)}` : ''}: ${cv.method ?? ''}` : `not computed: ${cv.reason ?? ''}`);

  for (const l of r.layers) {
    const j = l.jacobian;
    const opChain = l.opTypes.join(' → ');
    for (const node of l.nodes) {
      if (!node) continue;
      add(metadata, 'node', node, 'layer', `${l.name} (#${l.index + 1} of ${r.layers.length}${l.nodes.length > 1 ? `: ${opChain}, figures for the whole layer` : ''})`);
      add(metadata, 'node', node, 'jacobian', methodText(l));
      add(metrics, 'node', node, 'sigma_max', j.sigmaMax);
      add(metrics, 'node', node, 'sigma_min', j.sigmaMin);
      add(metrics, 'node', node, 'rms_gain', j.rmsGain);
      add(metrics, 'node', node, 'condition', j.conditionNumber);
      add(metrics, 'node', node, 'grad_norm_in', l.gradient.inputNorm);
      add(metrics, 'node', node, 'grad_norm_out', l.gradient.outputNorm);
      add(metrics, 'node', node, 'lyapunov_sum', l.lyapunovRunningSum);
      if (l.saturation) add(metrics, 'node', node, l.saturation.kind, l.saturation.fraction);
    }
    // the gradient on the edges into and out of the layer (only where the boundary is one tensor: a norm over several is not one edge's)
    if (l.inputTensors.length === 1) add(metrics, 'value', l.inputTensors[0], 'grad_norm', l.gradient.inputNorm);
    if (l.outputTensors.length === 1) add(metrics, 'value', l.outputTensors[0], 'grad_norm', l.gradient.outputNorm);
  }

  for (const p of r.parameters) addParameter(p, (list, name, value) => add(list === 'metrics' ? metrics : metadata, 'tensor', p.name, name, value));

  for (const n of r.numerics ?? []) {
    add(metrics, 'value', n.tensor, 'min', n.min);
    add(metrics, 'value', n.tensor, 'max', n.max);
    add(metrics, 'value', n.tensor, 'min_abs', n.minAbs);
    const flags = [n.nan && 'NaN', n.negInf && '-Inf', n.posInf && '+Inf'].filter(Boolean);
    if (flags.length) add(metadata, 'value', n.tensor, 'non-finite', `${flags.join(', ')} seen over ${n.samples} sample${n.samples === 1 ? '' : 's'}`);
  }

  // findings: on their node, on the parameter's weight too, and on the model (so none is lost), a
  // grouped finding's members each on its own; named "finding N" per target (Netron's sidebar cuts
  // names at about 14 characters), the text says which
  const count = new Map<string, number>();
  const label = (kind: string, target: string) => {
    const k = (count.get(`${kind}::${target}`) ?? 0) + 1;
    count.set(`${kind}::${target}`, k);
    return `finding ${k}`;
  };
  for (const group of r.findings) {
    for (const f of memberFindings(group)) {
      const node = findingNode(r, f);
      const text = findingText(f, group);
      if (node) add(metadata, 'node', node, label('node', node), text);
      if (f.parameter) add(metadata, 'tensor', f.parameter, label('tensor', f.parameter), text);
      if (!node && !f.parameter) add(metadata, 'model', '', label('model', ''), text);
    }
  }
  return { signature: 'netron:attachment', metadata, metrics };
}

function addParameter(p: ParameterReport, add: (list: 'metrics' | 'metadata', name: string, value: string | number | null | undefined) => void): void {
  add('metrics', 'grad_norm', p.gradNorm);
  add('metrics', 'grad/weight', p.gradToWeightRatio);
  add('metrics', 'spectral_norm', p.spectralNorm);
  add('metrics', 'condition', p.conditionNumber);
  add('metrics', 'kurtosis', p.kurtosis);
  if (p.varianceRatio) {
    add('metrics', 'var_vs_he', p.varianceRatio.he);
    add('metrics', 'var_vs_xavier', p.varianceRatio.xavier);
  }
  for (const g of p.recurrentGates ?? []) add('metrics', `radius_${g.gate}`, g.spectralRadius);
  if (p.spectralNormMethod) add('metadata', 'sn_method', p.spectralNormMethod);
  if (p.reason) add('metadata', 'note', p.reason);
}

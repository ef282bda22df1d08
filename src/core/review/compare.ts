import { absentFrom, findingLayers } from '../diagnosis/group';
import { confirms, formatFigure, jacobianFigure, type JacobianFigureName } from '../report/figures';
import type { AnalysisReport, Figure, Finding, LayerReport, Unavailable } from '../report/types';

/** How a layer of one model was paired with a layer of the other. */
export type MatchKind = 'name' | 'module' | 'position';

/** One row of a comparison: a layer of the base, of the candidate, or of both. */
export interface LayerPair {
  base?: LayerReport;
  candidate?: LayerReport;
  status: 'matched' | 'added' | 'removed';
  match?: MatchKind;
  /**
   * candidate / base for each figure (1 = unchanged), null on a layer only one side has. A ratio is
   * a figure with its kind: exact or an estimate when both sides are measurements, a bound when one
   * side is a bound (or a measurement within its error bar of 0), or the reason there is none.
   */
  change: { sigmaMax: Ratio | null; sigmaMin: Ratio | null; rmsGain: Ratio | null; gradient: Ratio | null };
}

/** candidate ÷ base: a figure (a measurement or a one-sided bound), or why the two leave it open. */
export type Ratio = Figure | Unavailable;

/** A comparison of two analyses of two models (a base and a candidate that would replace it). */
export interface Comparison {
  base: { path: string; verdict: string; layers: number; parameters: number };
  candidate: { path: string; verdict: string; layers: number; parameters: number };
  /** Why the two runs' samples may differ, when they do. */
  samplesNote?: string;
  layers: LayerPair[];
  introduced: Finding[];
  resolved: Finding[];
  /** Changes that make the candidate worse: introduced warnings or errors, figures moved across a threshold. */
  regressions: string[];
}

/** A comparison with the two analyses it was made from. */
export interface ComparisonResult {
  comparison: Comparison;
  base: AnalysisReport;
  candidate: AnalysisReport;
}

/** The comparison as JSON: layers by name (the two full reports are beside it, not repeated per layer). */
export function comparisonJson(r: ComparisonResult): string {
  const c = r.comparison;
  const layers = c.layers.map(({ base, candidate, ...rest }) => ({ ...rest, base: base?.name, candidate: candidate?.name }));
  return JSON.stringify({ comparison: { ...c, layers }, base: r.base, candidate: r.candidate }, null, 2);
}

/** Thresholds a layer figure may cross for a comparison to call it a regression. */
export interface RegressionThresholds {
  contractingLayerRmsGain: number;
  explodingLayerSigmaMax: number;
  illConditioned: number;
}

/**
 * Compares two analyses. Layers are paired by name, then by module path and op types, then by
 * op types in depth order (a longest common subsequence); the rest are added or removed. Findings
 * are the same finding when their rule matches and their layers are paired (or both are about the
 * whole model); grouped findings are compared member by member.
 */
export function compareReports(base: AnalysisReport, candidate: AnalysisReport, thresholds: RegressionThresholds): Comparison {
  const pairs = matchLayers(base.layers, candidate.layers);
  const toBase = new Map<string, string>();
  for (const p of pairs) if (p.base && p.candidate) toBase.set(p.candidate.name, p.base.name);
  const key = (f: Finding, layerOf: (l: string) => string | undefined) => `${f.rule}|${f.layer ? layerOf(f.layer) ?? `+${f.layer}` : ''}|${f.parameter && !f.layer ? f.parameter : ''}`;
  const baseKey = (f: Finding) => key(f, (l) => l);
  const candidateKey = (f: Finding) => key(f, (l) => toBase.get(l));
  // grouped findings compare member by member: a group partly there lists the members that are not
  const introduced = absentFrom(candidate.findings, candidateKey, base.findings, baseKey);
  const resolved = absentFrom(base.findings, baseKey, candidate.findings, candidateKey);
  const regressions: string[] = introduced.filter((f) => f.severity !== 'info').map((f) => `introduced ${f.severity} ${f.rule}${where(f)}`);
  for (const p of pairs) {
    if (!p.base || !p.candidate) continue;
    const [a, b] = [p.base.jacobian, p.candidate.jacobian];
    // a crossing needs both sides on their side of the limit: a bound shows a value past it in its own direction only
    const crossed = (what: string, name: JacobianFigureName, limit: number, worse: 'above' | 'below') => {
      const [x, y] = [jacobianFigure(a, name), jacobianFigure(b, name)];
      if (!x || !y || !Number.isFinite(x.value) || !Number.isFinite(y.value)) return;
      if (confirms(x, worse === 'above' ? 'below' : 'above', limit) && confirms(y, worse, limit)) regressions.push(`${p.candidate!.name}: ${what} ${formatFigure(x)} → ${formatFigure(y)} crosses ${fmt(limit)}`);
    };
    crossed('rms gain', 'rmsGain', thresholds.contractingLayerRmsGain, 'below');
    crossed('σmax', 'sigmaMax', thresholds.explodingLayerSigmaMax, 'above');
    crossed('condition number', 'conditionNumber', thresholds.illConditioned, 'above');
  }
  const sameSamples = JSON.stringify(base.run.sampleInputs.map((s) => [s.input, s.dtype, s.dims])) === JSON.stringify(candidate.run.sampleInputs.map((s) => [s.input, s.dtype, s.dims]));
  return {
    base: summary(base),
    candidate: summary(candidate),
    samplesNote: sameSamples ? undefined : 'the two models have different input signatures: each was fed its own synthesized samples (same seed)',
    layers: pairs,
    introduced,
    resolved,
    regressions,
  };
}

/** " on /a" for a finding on one layer, " on 12 layers (/a .. /b)" for a group. */
function where(f: Finding): string {
  const layers = findingLayers(f);
  if (layers.length <= 1) return f.layer ? ` on ${f.layer}` : '';
  return ` on ${layers.length} layers (${layers[0]} .. ${layers[layers.length - 1]})`;
}

function summary(r: AnalysisReport) {
  return { path: r.model.path, verdict: r.verdict?.status ?? 'unknown', layers: r.layers.length, parameters: r.model.parameterCount };
}

/** A figure's interval [lo, hi]: a measurement is its value; a bound, or a measurement within its error bar of 0, is open on one side. */
function interval(f: Figure): [number, number] {
  const measured = f.kind === 'exact' || f.kind === 'estimate';
  if (measured && f.error !== undefined && f.error > 0 && Math.abs(f.value) <= f.error) return [0, f.error];
  if (f.kind === 'upper-bound') return [0, f.value];
  if (f.kind === 'lower-bound') return [f.value, Infinity];
  return [f.value, f.value];
}

/**
 * candidate ÷ base as a figure: two measurements give a measurement (an estimate if either is one,
 * its error bar from both relative errors); where a side is a bound the ratio is the bound its
 * interval allows (a lower-bound candidate over a measured base: at least; an upper-bound
 * candidate, or a lower-bound base: at most); where the two leave it open on both sides, or a
 * side is missing, 0 or not finite, the reason instead of a number.
 */
export function figureRatio(base: Figure | null, candidate: Figure | null, what = 'the figure'): Ratio {
  if (base === null) return { reason: `${what} of the base was not computed` };
  if (candidate === null) return { reason: `${what} of the candidate was not computed` };
  if (!Number.isFinite(base.value) || !Number.isFinite(candidate.value)) return { reason: `${what} is not finite on ${Number.isFinite(base.value) ? 'the candidate' : 'the base'}` };
  if (base.value < 0 || candidate.value < 0) return { reason: `${what} is negative` };
  const [b, c] = [interval(base), interval(candidate)];
  if (b[1] === 0) return { reason: `${what} of the base is 0` };
  const lo = c[0] / b[1];
  const hi = b[0] > 0 ? c[1] / b[0] : Infinity;
  if (lo === hi) {
    const kind = base.kind === 'exact' && candidate.kind === 'exact' ? 'exact' : 'estimate';
    const rel = (f: Figure) => (f.error !== undefined && f.value > 0 ? f.error / f.value : 0);
    const error = lo * (rel(base) + rel(candidate));
    return error > 0 ? { value: lo, kind, error } : { value: lo, kind };
  }
  if (lo > 0 && hi === Infinity) return { value: lo, kind: 'lower-bound' };
  if (lo === 0 && Number.isFinite(hi)) return { value: hi, kind: 'upper-bound' };
  return { reason: `${what} is only bounded (or within its error bar of 0) on both sides, which leaves its change open` };
}

/** A ratio as text: "×1.2", "≥ ×53", "≤ ×3.1e-4", or '—' with no ratio (the reason is in the ratio). */
export function ratioText(r: Ratio | null, withError = false): string {
  if (r === null) return '';
  if ('reason' in r) return '—';
  const text = formatFigure(r, withError);
  return text.replace(/^([≤≥] )?/, (m) => `${m}×`);
}

const CHANGE_NAMES: Record<keyof LayerPair['change'], string> = { rmsGain: 'rms gain', sigmaMax: 'σmax', sigmaMin: 'σmin', gradient: '‖∂L/∂in‖' };

/**
 * What the printed changes are, for the lines under a comparison's table: that "≥ ×" and "≤ ×" are
 * bounds, and each reason a change has no ratio with the layers it holds for.
 */
export function changeNotes(c: Comparison, names: Array<keyof LayerPair['change']> = ['rmsGain', 'sigmaMax', 'sigmaMin', 'gradient']): string[] {
  const notes: string[] = [];
  const bounds = new Set<string>();
  const open = new Map<string, string[]>();
  for (const p of c.layers) {
    for (const name of names) {
      const r = p.change[name];
      if (!r) continue;
      const layer = p.candidate?.name ?? p.base?.name ?? '';
      if ('reason' in r) open.set(r.reason, [...(open.get(r.reason) ?? []), layer]);
      else if (r.kind === 'lower-bound' || r.kind === 'upper-bound') bounds.add(CHANGE_NAMES[name]);
    }
  }
  if (bounds.size) notes.push(`"≥ ×" and "≤ ×" (${[...bounds].join(', ')}): a bound on the change, not a measurement, since one side is a bound (or within its error bar of 0)`);
  for (const [reason, layers] of open) notes.push(`No ratio ("—") on ${layers.length === 1 ? layers[0] : `${layers.length} layers (${layers[0]} .. ${layers[layers.length - 1]})`}: ${reason}`);
  return notes;
}

/** The figures a comparison pairs, as figures with their kinds. */
export function pairFigure(l: LayerReport, name: JacobianFigureName | 'gradient'): Figure | null {
  if (name !== 'gradient') return jacobianFigure(l.jacobian, name);
  return l.gradient.inputNorm === null ? null : { value: l.gradient.inputNorm, kind: 'exact' };
}

function pair(base: LayerReport | undefined, candidate: LayerReport | undefined, match?: MatchKind): LayerPair {
  return {
    base,
    candidate,
    status: base && candidate ? 'matched' : base ? 'removed' : 'added',
    match,
    change: {
      sigmaMax: base && candidate ? figureRatio(pairFigure(base, 'sigmaMax'), pairFigure(candidate, 'sigmaMax'), 'σmax') : null,
      sigmaMin: base && candidate ? figureRatio(pairFigure(base, 'sigmaMin'), pairFigure(candidate, 'sigmaMin'), 'σmin') : null,
      rmsGain: base && candidate ? figureRatio(pairFigure(base, 'rmsGain'), pairFigure(candidate, 'rmsGain'), 'the rms gain') : null,
      gradient: base && candidate ? figureRatio(pairFigure(base, 'gradient'), pairFigure(candidate, 'gradient'), 'the input gradient') : null,
    },
  };
}

/** Pairs layers: same name; then same module path and op types; then op types in depth order (LCS). */
export function matchLayers(base: LayerReport[], candidate: LayerReport[]): LayerPair[] {
  const partner = new Map<LayerReport, { other: LayerReport; how: MatchKind }>();
  const take = (a: LayerReport, b: LayerReport, how: MatchKind) => {
    partner.set(a, { other: b, how });
    partner.set(b, { other: a, how });
  };
  const byName = new Map(candidate.map((l) => [l.name, l]));
  for (const a of base) {
    const b = byName.get(a.name);
    if (b) take(a, b, 'name');
  }
  const sig = (l: LayerReport) => `${l.module ?? ''}|${l.opTypes.join('+')}`;
  const free = (ls: LayerReport[]) => ls.filter((l) => !partner.has(l));
  const byModule = new Map<string, LayerReport[]>();
  for (const b of free(candidate)) if (b.module) byModule.set(sig(b), [...(byModule.get(sig(b)) ?? []), b]);
  for (const a of free(base)) {
    const q = a.module ? byModule.get(sig(a)) : undefined;
    const b = q?.shift();
    if (b) take(a, b, 'module');
  }
  // the rest by op types in depth order: a longest common subsequence
  const [fa, fb] = [free(base), free(candidate)];
  const ops = (l: LayerReport) => l.opTypes.join('+');
  const n = fa.length;
  const m = fb.length;
  const dp = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i][j] = ops(fa[i]) === ops(fb[j]) ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  for (let i = 0, j = 0; i < n && j < m;) {
    if (ops(fa[i]) === ops(fb[j])) take(fa[i++], fb[j++], 'position');
    else if (dp[i + 1][j] >= dp[i][j + 1]) i++;
    else j++;
  }
  // rows in the candidate's depth order, removed base layers placed after their predecessor
  const rows: LayerPair[] = [];
  const placed = new Set<LayerReport>();
  let bi = 0;
  for (const b of candidate) {
    const p = partner.get(b);
    if (p) {
      while (bi < base.length && base[bi] !== p.other) {
        if (!partner.has(base[bi]) && !placed.has(base[bi])) {
          rows.push(pair(base[bi], undefined));
          placed.add(base[bi]);
        }
        bi++;
      }
      rows.push(pair(p.other, b, p.how));
      placed.add(p.other);
    } else {
      rows.push(pair(undefined, b));
    }
  }
  for (const a of base) if (!placed.has(a)) rows.push(pair(a, undefined));
  return rows;
}

function fmt(x: number): string {
  const a = Math.abs(x);
  return a !== 0 && (a >= 1e4 || a < 1e-3) ? x.toExponential(2) : String(Number(x.toPrecision(3)));
}

import { absentFrom, findingLayers } from '../diagnosis/group';
import type { AnalysisReport, Finding, LayerReport } from '../report/types';

/** How a layer of one model was paired with a layer of the other. */
export type MatchKind = 'name' | 'module' | 'position';

/** One row of a comparison: a layer of the base, of the candidate, or of both. */
export interface LayerPair {
  base?: LayerReport;
  candidate?: LayerReport;
  status: 'matched' | 'added' | 'removed';
  match?: MatchKind;
  /** candidate / base, for each figure both have (1 = unchanged). */
  change: { sigmaMax: number | null; sigmaMin: number | null; rmsGain: number | null; gradient: number | null };
}

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
    const crossed = (what: string, x: number | null, y: number | null, limit: number, worse: (v: number) => boolean) => {
      if (x !== null && y !== null && !worse(x) && worse(y)) regressions.push(`${p.candidate!.name}: ${what} ${fmt(x)} → ${fmt(y)} crosses ${fmt(limit)}`);
    };
    crossed('rms gain', a.rmsGain, b.rmsGain, thresholds.contractingLayerRmsGain, (v) => v < thresholds.contractingLayerRmsGain);
    crossed('σmax', a.sigmaMax, b.sigmaMax, thresholds.explodingLayerSigmaMax, (v) => v > thresholds.explodingLayerSigmaMax);
    crossed('condition number', a.conditionNumber, b.conditionNumber, thresholds.illConditioned, (v) => v > thresholds.illConditioned);
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

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a !== null && a !== undefined && b !== null && b !== undefined && a > 0 ? b / a : null;
}

function pair(base: LayerReport | undefined, candidate: LayerReport | undefined, match?: MatchKind): LayerPair {
  return {
    base,
    candidate,
    status: base && candidate ? 'matched' : base ? 'removed' : 'added',
    match,
    change: {
      sigmaMax: ratio(base?.jacobian.sigmaMax, candidate?.jacobian.sigmaMax),
      sigmaMin: ratio(base?.jacobian.sigmaMin, candidate?.jacobian.sigmaMin),
      rmsGain: ratio(base?.jacobian.rmsGain, candidate?.jacobian.rmsGain),
      gradient: ratio(base?.gradient.inputNorm, candidate?.gradient.inputNorm),
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

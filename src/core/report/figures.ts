import type { AnalysisReport, Figure, FigureKind, LayerJacobian } from './types';

/** A figure with 3 significant digits, or '—' when it is null. */
export function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e4 || a < 1e-3 ? x.toExponential(2) : x.toPrecision(3);
}

/** The figures of a Jacobian (a layer's or the end-to-end one) that carry a kind. */
export type JacobianFigureName = 'sigmaMax' | 'sigmaMin' | 'rmsGain' | 'conditionNumber';

/** A Jacobian as the report holds it: a layer's or the end-to-end one. */
export type ReportedJacobian = Pick<LayerJacobian, JacobianFigureName | 'kinds' | 'errors' | 'rank'>;

/** Reports written before kinds existed (schema 1.0) hold measurements only. */
const LEGACY_KIND: FigureKind = 'exact';

/**
 * A Jacobian figure with its kind and error bar, or null when it could not be computed. A singular
 * Jacobian (numerical rank below min(m, n)) has an infinite condition number: a figure, not a gap.
 */
export function jacobianFigure(j: ReportedJacobian, name: JacobianFigureName): Figure | null {
  const kind = j.kinds?.[name] ?? LEGACY_KIND;
  const value = j[name];
  if (value === null) {
    if (name === 'conditionNumber' && j.rank && j.rank.value < j.rank.of) return { value: Infinity, kind };
    return null;
  }
  const error = name === 'conditionNumber' ? undefined : j.errors?.[name];
  return { value, kind, error };
}

/** The curvature figures with their kinds. */
export function curvatureFigure(c: AnalysisReport['curvature'], name: 'hessianMaxEigenvalue' | 'maxStableLearningRate' | 'maxStableLearningRateMomentum'): Figure | null {
  const value = c[name];
  if (value === null) return null;
  return { value, kind: c.kinds?.[name] ?? LEGACY_KIND, error: name === 'hessianMaxEigenvalue' ? c.error : undefined };
}

/** How a bound reads before its value. */
const BOUND_MARK: Partial<Record<FigureKind, string>> = { 'upper-bound': '≤ ', 'lower-bound': '≥ ' };

/**
 * A figure as text: bounds as bounds ("≥ 53", "≤ 1.1e-4"), estimates with their error bar when
 * `withError` asks for it ("0.92 ± 0.01"), '—' when it could not be computed. A measurement within
 * its error bar of 0 is only known to be at most that error bar ("≤ 3.2e-9"), never printed as 0.
 */
export function formatFigure(f: Figure | null, withError = false): string {
  if (f === null) return '—';
  const measured = f.kind === 'exact' || f.kind === 'estimate';
  if (measured && f.error !== undefined && f.error > 0 && Math.abs(f.value) <= f.error) return `≤ ${fmt(f.error)}`;
  const text = `${BOUND_MARK[f.kind] ?? ''}${fmt(f.value)}`;
  return withError && f.kind === 'estimate' && f.error !== undefined && f.error > 0 && Number.isFinite(f.value) ? `${text} ± ${fmt(f.error)}` : text;
}

/** A figure's kind in words, for tooltips and legends. */
export function kindText(kind: FigureKind): string {
  switch (kind) {
    case 'exact': return 'exact (to float32 rounding)';
    case 'estimate': return 'an estimate within its error bar';
    case 'upper-bound': return 'an upper bound: the true value is at most this';
    case 'lower-bound': return 'a lower bound: the true value is at least this';
    default: {
      const exhaustive: never = kind;
      return exhaustive;
    }
  }
}

/** Why a Jacobian is singular, in words: the units off at this sample, or a deficient rank beyond them. */
export function rankText(j: ReportedJacobian): string | undefined {
  const r = j.rank;
  if (!r || r.value >= r.of) return undefined;
  const deficient = r.of - r.value;
  const off = (r.zeroRows > 0 ? `; ${r.zeroRows} output unit${r.zeroRows === 1 ? ' is' : 's are'} off at this sample (zero rows)` : '')
    + (r.zeroColumns ? `; ${r.zeroColumns} input${r.zeroColumns === 1 ? ' is' : 's are'} not read (zero columns)` : '');
  return `numerical rank ${r.value} of ${r.of} (${deficient} direction${deficient === 1 ? '' : 's'} lost${off})`;
}

/**
 * Whether a figure shows that the true value is above `threshold` (`'above'`) or below it
 * (`'below'`): a bound confirms a finding in its own direction only (a lower bound can show that
 * a value is large, never that it is small), an estimate or exact figure by its value.
 */
export function confirms(f: Figure | null, direction: 'above' | 'below', threshold: number): boolean {
  if (f === null) return false;
  if (direction === 'above') return f.kind !== 'upper-bound' && f.value > threshold;
  return f.kind !== 'lower-bound' && f.value < threshold;
}

/** "at least" / "at most" / "" for a figure's kind, for findings' messages. */
export function boundWords(kind: FigureKind): string {
  return kind === 'lower-bound' ? 'at least ' : kind === 'upper-bound' ? 'at most ' : '';
}

import { memberFindings, memberLabels } from '../diagnosis/group';
import { changeNotes, ratioText, type Comparison, type LayerPair } from '../review/compare';
import { fmt, formatFigure, jacobianFigure, type JacobianFigureName } from './figures';
import { batchNormNote } from './batchNormText';
import { phaseSummary } from './phase';
import type { AnalysisReport, Finding, LayerReport } from './types';

const LABEL: Record<string, string> = { healthy: 'Healthy', 'at-risk': 'At risk', pathological: 'Pathological', unknown: 'Unknown' };
const ICON = { error: '🛑', warning: '⚠️', info: 'ℹ️' } as const;
const BARS = '▁▂▃▄▅▆▇█';

/** Markdown-safe table cell text. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function base(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/**
 * The gradient flow as text: one line per layer with a bar on a log scale between the smallest and
 * largest gradient norm, for a pull-request comment.
 */
export function textFlow(rows: Array<{ name: string; value: number | null }>): string {
  const logs = rows.map((r) => (r.value && r.value > 0 ? Math.log10(r.value) : null));
  const finite = logs.filter((x): x is number => x !== null);
  const [lo, hi] = [Math.min(...finite), Math.max(...finite)];
  const width = Math.max(...rows.map((r) => r.name.length), 5);
  return rows.map((r, i) => {
    const l = logs[i];
    const level = l === null ? -1 : hi > lo ? Math.round(((l - lo) / (hi - lo)) * 15) : 15;
    const bar = level < 0 ? '' : '█'.repeat(Math.floor(level / 2) + 1) + (level % 2 ? '▌' : '');
    return `${r.name.padEnd(width)}  ${fmt(r.value).padStart(9)}  ${bar}`;
  }).join('\n');
}

/** A sparkline of values on a log scale (over `scale`'s range when given, so two lines compare). */
export function sparkline(values: Array<number | null>, scale: Array<number | null> = values): string {
  const log = (v: number | null) => (v && v > 0 ? Math.log10(v) : null);
  const logs = values.map(log);
  const finite = scale.map(log).filter((x): x is number => x !== null);
  const [lo, hi] = [Math.min(...finite), Math.max(...finite)];
  return logs.map((l) => (l === null ? ' ' : BARS[hi > lo ? Math.round(((l - lo) / (hi - lo)) * 7) : 7])).join('');
}

/** One finding as a list item: where, message, fix, and a grouped finding's members with their figures. */
function findingLine(f: Finding): string {
  const where = f.range ? ` (\`${f.range[0]}\` .. \`${f.range[1]}\`)` : f.layer && !f.members ? ` (\`${f.layer}\`)` : '';
  const lines = [`- ${ICON[f.severity]} **${f.rule}**${where}: ${f.message}`];
  if (f.fix) lines.push(`  *Fix:* ${f.fix}`);
  if (f.members) {
    const { noun, labels } = memberLabels(f);
    const items = f.members.map((m, i) => `\`${labels[i]}\`${m.measured !== undefined ? ` ${formatFigure({ value: m.measured, kind: m.measuredKind ?? 'exact' })}` : ''}`);
    lines.push(`  *${noun[0].toUpperCase()}${noun.slice(1)} (${f.members.length}):* ${items.join(' · ')}`);
  }
  return lines.join('\n');
}

/** A report as Markdown for a pull-request comment: the verdict, the findings with their fixes (groups with their layers), the flagged layers' figures, the gradient flow. */
export function reportMarkdown(r: AnalysisReport): string {
  const v = r.verdict;
  const lines = [`## Gradient Doctor: \`${base(r.model.path)}\` is ${LABEL[v?.status ?? 'unknown']}`, ''];
  if (v) lines.push(`**${v.headline}**`, '', `${plural(v.counts.error, 'error')}, ${plural(v.counts.warning, 'warning')}, ${v.counts.info} info · ${r.layers.length} layers · ${r.run.executionProvider.toUpperCase()} · ${r.run.samples} sample${r.run.samples === 1 ? '' : 's'}, seed ${r.run.seed}, loss ${r.run.loss}${r.run.lossReduction ? ` (${r.run.lossReduction})` : ''}`, '');
  const partial = phaseSummary(r, false);
  if (partial) lines.push(`> **${partial}**`, '');
  for (const note of new Set(r.run.sampleInputs.flatMap((s) => (s.note ? [s.note] : [])))) lines.push(`> **Sample inputs:** ${note}`, '');
  const bn = batchNormNote(r.run);
  if (bn) lines.push(`> **BatchNorm:** ${bn}`, '');
  if (r.findings.length) lines.push('### Findings', '', ...r.findings.map(findingLine), '');
  // each layer a finding is on, alone or as a member of a group, with its figures (the fixes are in the list above)
  const onLayer = (l: LayerReport) => r.findings.flatMap(memberFindings).filter((f) => f.layer === l.name && f.severity !== 'info');
  const flagged = r.layers.filter((l) => onLayer(l).length);
  if (flagged.length) {
    lines.push('### Flagged layers', '', '| layer | σmax | σmin | rms gain | κ | ‖∂L/∂in‖ | findings |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const l of flagged) {
      const fs = onLayer(l);
      const j = l.jacobian;
      lines.push(`| \`${cell(l.name)}\` | ${formatFigure(jacobianFigure(j, 'sigmaMax'))} | ${formatFigure(jacobianFigure(j, 'sigmaMin'))} | ${formatFigure(jacobianFigure(j, 'rmsGain'))} | ${formatFigure(jacobianFigure(j, 'conditionNumber'))} | ${fmt(l.gradient.inputNorm)} | ${cell(distinct(fs.map((f) => `${ICON[f.severity]} ${f.rule}`)).join(', '))} |`);
    }
    lines.push('');
  }
  lines.push('### Gradient flow (‖∂L/∂input‖ by layer, log scale)', '', '```', textFlow(r.layers.map((l) => ({ name: l.name, value: l.gradient.inputNorm }))), '```', '');
  lines.push(`<sub>gradient-doctor ${r.tool.version} · onnxruntime ${r.run.ortVersion} · model sha256 ${r.model.sha256.slice(0, 12)}</sub>`, '');
  return lines.join('\n');
}

function figureOf(l: LayerReport | undefined, name: JacobianFigureName): string {
  return l ? formatFigure(jacobianFigure(l.jacobian, name)) : '—';
}

function distinct(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** "1 error", "2 errors". */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A comparison as Markdown: the verdicts, per-layer changes, findings introduced and resolved, regressions. */
export function comparisonMarkdown(c: Comparison): string {
  const lines = [
    `## Gradient Doctor: \`${base(c.candidate.path)}\` against \`${base(c.base.path)}\``,
    '',
    `**${LABEL[c.base.verdict]} → ${LABEL[c.candidate.verdict]}** · ${c.introduced.length} findings introduced, ${c.resolved.length} resolved · ${c.regressions.length ? `⚠️ ${c.regressions.length} regression${c.regressions.length > 1 ? 's' : ''}` : 'no regression'}`,
    '',
  ];
  if (c.samplesNote) lines.push(`> Note: ${c.samplesNote}.`, '');
  lines.push('| layer | status | rms gain | σmax | σmin | ‖∂L/∂in‖ | gradient change |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const p of c.layers) {
    const name = p.candidate?.name ?? p.base!.name;
    const both = (name: JacobianFigureName & keyof LayerPair['change']) => `${figureOf(p.base, name)} → ${figureOf(p.candidate, name)}${p.change[name] ? ` (${ratioText(p.change[name])})` : ''}`;
    const status = p.status === 'matched' ? (p.match === 'name' ? 'matched' : `matched by ${p.match}`) : p.status;
    lines.push(`| \`${cell(name)}\` | ${status} | ${both('rmsGain')} | ${both('sigmaMax')} | ${both('sigmaMin')} | ${p.base ? fmt(p.base.gradient.inputNorm) : '—'} → ${p.candidate ? fmt(p.candidate.gradient.inputNorm) : '—'} | ${ratioText(p.change.gradient)} |`);
  }
  lines.push('');
  const notes = changeNotes(c);
  if (notes.length) lines.push(...notes.map((n) => `- ${n}`), '');
  if (c.regressions.length) lines.push('### Regressions', '', ...c.regressions.map((r) => `- ${r}`), '');
  if (c.introduced.length) lines.push('### Introduced', '', ...c.introduced.map(findingLine), '');
  if (c.resolved.length) lines.push('### Resolved', '', ...c.resolved.map(findingLine), '');
  const baseFlow = c.layers.map((p) => p.base?.gradient.inputNorm ?? null);
  const candFlow = c.layers.map((p) => p.candidate?.gradient.inputNorm ?? null);
  lines.push('### Gradient flow (‖∂L/∂input‖ by layer, one log scale for both)', '', '```',
    `base       ${sparkline(baseFlow, [...baseFlow, ...candFlow])}`,
    `candidate  ${sparkline(candFlow, [...baseFlow, ...candFlow])}`, '```', '');
  return lines.join('\n');
}

import { formatFigure } from '../report/figures';
import type { Finding, FindingMember, LayerReport } from '../report/types';
import type { DiagnosisContext, Rule } from './rule';

/** How a rule's findings on several layers (nodes, weights) read as one finding: a rule's `group`. */
export interface GroupSpec {
  /** The finding's name in the plural, leading its message: 'Contracting layers'. */
  title: string;
  /** What the members do, with their count and the range of their figures: '12 layers contract signals, 0.137x to 0.147x each'. */
  summary(members: Finding[]): string;
  /** One fix for all the members (each keeps its own); by default theirs when they agree. */
  fix?(members: Finding[], ctx: DiagnosisContext): string | undefined;
}

/**
 * Groups findings after the rules run: a rule's findings of one severity on two or more layers
 * (nodes, weights) become one finding whose `members` are those findings, in depth order, at the
 * place of the first of them. Findings about a stretch already (`range`) and rules without a
 * `group` spec are left as they are.
 */
export function groupFindings(findings: Finding[], rules: readonly Rule[], ctx: DiagnosisContext): Finding[] {
  const spec = new Map(rules.flatMap((r) => (r.group ? [[r.id, r.group] as const] : [])));
  const key = (f: Finding) => `${f.rule}|${f.severity}`;
  const buckets = new Map<string, Finding[]>();
  for (const f of findings) {
    if (!spec.has(f.rule) || f.range || f.members || !(f.layer ?? f.node ?? f.parameter ?? f.tensor)) continue;
    const bucket = buckets.get(key(f)) ?? [];
    bucket.push(f);
    buckets.set(key(f), bucket);
  }
  const out: Finding[] = [];
  const done = new Set<string>();
  for (const f of findings) {
    const members = buckets.get(key(f));
    if (!members || members.length < 2 || !members.includes(f)) {
      out.push(f);
      continue;
    }
    if (done.has(key(f))) continue;
    done.add(key(f));
    out.push(groupOf(members, spec.get(f.rule)!, ctx));
  }
  return out;
}

/** One finding of a rule's members (two or more, one rule and severity). */
function groupOf(found: Finding[], spec: GroupSpec, ctx: DiagnosisContext): Finding {
  const index = new Map(ctx.report.layers.map((l) => [l.name, l.index]));
  const depth = (f: Finding) => (f.layer !== undefined ? index.get(f.layer) ?? Infinity : Infinity);
  const members = found.map((f, i) => ({ f, i })).sort((a, b) => depth(a.f) - depth(b.f) || a.i - b.i).map((x) => x.f);
  const [first, last] = [members[0], members[members.length - 1]];
  const { rule, severity } = first;
  const worst = worstOf(members);
  const whys = distinct(members.map((m) => m.why));
  const expects = distinct(members.map((m) => m.expect));
  const fixes = distinct(members.map((m) => m.fix));
  const tail = sharedTail(members.map((m) => m.message));
  const stretch = stretchOf(ctx.report.layers, members);
  const remedies = distinctBy(members.flatMap((m) => m.remedies ?? []), (r) => JSON.stringify(r));
  const why = whys.join(' ');
  // the fix of each member may promise a different figure: the worst member's promise stands for the group
  const expect = expects.length > 1 ? worst.expect : expects[0];
  const suffix = (f: Finding) => (f.id.startsWith(`${rule}:`) ? f.id.slice(rule.length + 1) : f.id);
  return {
    id: `${rule}:${suffix(first)}..${suffix(last)}`,
    rule,
    severity,
    layer: first.layer,
    node: first.node,
    tensor: first.tensor,
    parameter: first.parameter,
    range: stretch,
    message: `${spec.title}: ${spec.summary(members)} (${placeText(ctx.report.layers, members)}).${tail ? ` ${tail}` : ''}`,
    measured: worst.measured,
    measuredKind: worst.measuredKind,
    measuredName: worst.measuredName,
    threshold: worst.threshold,
    thresholdName: worst.thresholdName,
    why,
    fix: spec.fix?.(members, ctx) ?? (fixes.length <= 1 ? fixes[0] : `${fixes.slice(0, 3).join(' ')}${fixes.length > 3 ? ` (and ${fixes.length - 3} more: each member has its own fix)` : ''}`),
    expect,
    remedies: remedies.length ? remedies : undefined,
    members: members.map((m) => memberOf(m, why, expect)),
  };
}

/** A finding as a member of a group: without what the group holds for all of them. */
function memberOf(f: Finding, why: string, expect: string | undefined): FindingMember {
  const { rule: _rule, severity: _severity, range: _range, members: _members, why: own, expect: ownExpect, ...rest } = f;
  const m: FindingMember = { ...rest };
  if (own !== why) m.why = own;
  if (ownExpect !== expect) m.expect = ownExpect;
  for (const k of Object.keys(m) as Array<keyof FindingMember>) if (m[k] === undefined) delete m[k];
  return m;
}

/**
 * A finding's members as findings of their own (the finding itself when it is not a group): what
 * the rule said of each layer alone, for comparisons location by location.
 */
export function memberFindings(f: Finding): Finding[] {
  if (!f.members?.length) return [f];
  return f.members.map((m) => ({ rule: f.rule, severity: f.severity, ...(f.expect !== undefined ? { expect: f.expect } : {}), ...m, why: m.why ?? f.why }));
}

/**
 * The findings of `from` that `to` does not have, location by location: a finding none of whose
 * members (`key`) is in `to` as it is, and of one that is partly there, the members that are not.
 */
export function absentFrom(from: Finding[], fromKey: (f: Finding) => string, to: Finding[], toKey: (f: Finding) => string): Finding[] {
  const present = new Set(to.flatMap(memberFindings).map(toKey));
  return from.flatMap((f) => {
    const gone = memberFindings(f).filter((m) => !present.has(fromKey(m)));
    return gone.length === memberFindings(f).length ? [f] : gone;
  });
}

/** The member of a grouped finding (or the finding itself) with this id, when there is one. */
export function findMember(findings: Finding[], id: string): { finding: Finding; member?: FindingMember } | undefined {
  for (const f of findings) {
    if (f.id === id) return { finding: f };
    const member = f.members?.find((m) => m.id === id);
    if (member) return { finding: f, member };
  }
  return undefined;
}

/**
 * How a group's members are named in a list: by layer when each is on a layer of its own, else by
 * weight, node or tensor; with the plural noun for the list's label.
 */
export function memberLabels(f: Finding): { noun: 'layers' | 'weights' | 'nodes' | 'tensors'; labels: string[] } {
  const ms = f.members ?? [];
  const layers = ms.map((m) => m.layer);
  if (layers.every((l) => l !== undefined) && new Set(layers).size === ms.length) return { noun: 'layers', labels: layers as string[] };
  for (const [noun, key] of [['weights', 'parameter'], ['nodes', 'node'], ['tensors', 'tensor']] as const) {
    if (ms.every((m) => m[key] !== undefined)) return { noun, labels: ms.map((m) => m[key]!) };
  }
  return { noun: 'nodes', labels: ms.map((m) => m.node ?? m.parameter ?? m.tensor ?? m.layer ?? m.id) };
}

/** The names of the layers a finding is on: its members' (in depth order) or its own. */
export function findingLayers(f: Finding): string[] {
  return distinct(f.members ? f.members.map((m) => m.layer) : [f.layer]);
}

/**
 * Where a group's members are, in words: "layers 1-12: /a .. /b" for one unbroken stretch, "layers
 * 3, 5-9, 12" otherwise (numbers as the report's layer table counts them), or the members' nodes,
 * weights or tensors when they are not all on layers. `brief` leaves out a stretch's names and
 * gives a single layer by its name alone, for a sentence that goes on.
 */
export function placeText(layers: LayerReport[], members: Array<Pick<Finding, 'layer' | 'node' | 'parameter' | 'tensor'>>, brief = false): string {
  const index = new Map(layers.map((l) => [l.name, l.index]));
  const name = (i: number) => layers.find((l) => l.index === i)?.name;
  const at = members.map((m) => (m.layer !== undefined ? index.get(m.layer) : undefined));
  if (at.some((i) => i === undefined)) {
    const names = distinct(members.map((m) => m.node ?? m.parameter ?? m.tensor ?? m.layer));
    return names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
  }
  const sorted = [...new Set(at as number[])].sort((a, b) => a - b);
  if (sorted.length === 1) return brief ? `${name(sorted[0])}` : `layer ${sorted[0] + 1}: ${name(sorted[0])}`;
  const runs: Array<[number, number]> = [];
  for (const i of sorted) {
    const r = runs[runs.length - 1];
    if (r && i === r[1] + 1) r[1] = i;
    else runs.push([i, i]);
  }
  const numbers = `layers ${runs.map(([a, b]) => (a === b ? `${a + 1}` : `${a + 1}-${b + 1}`)).join(', ')}`;
  return runs.length === 1 && !brief ? `${numbers}: ${name(runs[0][0])} .. ${name(runs[0][1])}` : numbers;
}

/** How many distinct layers (or weights, nodes: `key`) the members are on ("12 layers"), or how many members when some have none. */
export function countText(members: Finding[], noun: [string, string] = ['layer', 'layers'], key: (m: Finding) => string | undefined = (m) => m.layer): string {
  const n = members.some((m) => key(m) === undefined) ? members.length : new Set(members.map(key)).size;
  return `${n} ${n === 1 ? noun[0] : noun[1]}`;
}

/** The first and last layer of the members when their layers are one unbroken stretch of two or more. */
function stretchOf(layers: LayerReport[], members: Finding[]): [string, string] | undefined {
  const index = new Map(layers.map((l) => [l.name, l.index]));
  const at = members.map((m) => (m.layer !== undefined ? index.get(m.layer) : undefined));
  if (at.some((i) => i === undefined)) return undefined;
  const sorted = [...new Set(at as number[])].sort((a, b) => a - b);
  if (sorted.length < 2 || sorted[sorted.length - 1] - sorted[0] !== sorted.length - 1) return undefined;
  const name = (i: number) => layers.find((l) => l.index === i)!.name;
  return [name(sorted[0]), name(sorted[sorted.length - 1])];
}

/**
 * The range of the members' measured figures, each printed with its kind ("≥ 53 to 120"), through
 * `unit` ("0.137x to 0.147x"); `missing` stands for members without a figure (an infinite one).
 */
export function measuredRange(members: Finding[], unit: (figure: string) => string = (s) => s, opts: { scale?: number; missing?: string } = {}): string {
  const known = members.filter((m) => m.measured !== undefined && Number.isFinite(m.measured));
  const text = (m: Finding) => unit(formatFigure({ value: m.measured! * (opts.scale ?? 1), kind: m.measuredKind ?? 'exact' }));
  const missing = known.length < members.length ? opts.missing ?? '?' : undefined;
  if (known.length === 0) return missing ?? '?';
  const lo = known.reduce((a, b) => (b.measured! < a.measured! ? b : a));
  const hi = known.reduce((a, b) => (b.measured! > a.measured! ? b : a));
  const [from, to] = [text(lo), missing ?? text(hi)];
  return from === to ? from : `${from} to ${to}`;
}

/** The member whose figure is farthest past its threshold (one without a figure, an infinite one, first). */
function worstOf(members: Finding[]): Finding {
  const unmeasured = members.find((m) => m.measured === undefined);
  if (unmeasured && members.some((m) => m.measured !== undefined)) return unmeasured;
  const score = (m: Finding) => {
    if (m.measured === undefined) return -Infinity;
    const t = m.threshold ?? 0;
    return t > 0 && m.measured > 0 ? Math.abs(Math.log(m.measured / t)) : Math.abs(m.measured - t);
  };
  return members.reduce((a, b) => (score(b) > score(a) ? b : a));
}

/** The sentences of a message: a full stop, then a space and a capital ("e.g." and "i.e." do not end one). */
export function sentences(text: string): string[] {
  return text.split(/(?<=[.!?])(?<!\be\.g\.)(?<!\bi\.e\.)\s+(?=[A-Z])/);
}

/** The first sentence of a message (the verdict's headline is one sentence). */
export function firstSentence(text: string): string {
  return sentences(text)[0];
}

/** The last sentence all messages end with, when they have more than one and share it (the common cause). */
function sharedTail(messages: string[]): string | undefined {
  const tails = messages.map((m) => sentences(m));
  if (tails.some((s) => s.length < 2)) return undefined;
  const last = tails[0][tails[0].length - 1];
  return tails.every((s) => s[s.length - 1] === last) ? last : undefined;
}

function distinct<T>(xs: Array<T | undefined>): T[] {
  return [...new Set(xs.filter((x): x is T => x !== undefined))];
}

function distinctBy<T>(xs: T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => !seen.has(key(x)) && !!seen.add(key(x)));
}

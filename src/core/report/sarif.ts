import type * as Sarif from 'sarif';
import { firstSentence, memberFindings } from '../diagnosis/group';
import { RULES } from '../diagnosis/registry';
import type { SourceMatch } from '../sourceMap';
import type { AnalysisReport, Finding } from './types';

const LEVEL = { error: 'error', warning: 'warning', info: 'note' } as const;

/**
 * The findings as a SARIF 2.1.0 log for code-scanning tools: one result per finding and location
 * (a grouped finding gives one result per member, each with its own figure and fix, the group's
 * id in its properties), located in the Python source when the model maps to it (exporter stack
 * traces or module names) and in the model file otherwise, with the node or layer as a logical
 * location; the rules with their help.
 */
export function reportSarif(r: AnalysisReport, opts: { modelUri: string; sources?: Map<string, SourceMatch>; toolVersion: string }): Sarif.Log {
  const ruleIndex = new Map(RULES.map((rule, i) => [rule.id, i]));
  const results: Sarif.Result[] = r.findings.flatMap((group) => memberFindings(group).map((f, i) => {
    // a group's first member stands where the group does: its source may be known by the group's id
    const source = opts.sources?.get(f.id) ?? (i === 0 ? opts.sources?.get(group.id) : undefined);
    const logical: Sarif.LogicalLocation[] = [];
    if (f.layer) logical.push({ name: f.layer, kind: 'module', fullyQualifiedName: f.layer });
    if (f.node && f.node !== f.layer) logical.push({ name: f.node, kind: 'function' });
    const location: Sarif.Location = {
      physicalLocation: source
        ? { artifactLocation: { uri: source.file }, region: { startLine: source.line } }
        : { artifactLocation: { uri: opts.modelUri } },
      ...(logical.length ? { logicalLocations: logical } : {}),
      ...(source?.how === 'module' ? { message: { text: `best-effort match of module '${source.what}'` } } : {}),
    };
    return {
      ruleId: f.rule,
      ...(ruleIndex.has(f.rule) ? { ruleIndex: ruleIndex.get(f.rule) } : {}),
      level: LEVEL[f.severity],
      message: { text: messageOf(f, group) },
      locations: [location],
      partialFingerprints: { findingId: f.id },
      properties: {
        ...(f.measured !== undefined ? { measured: f.measured, measuredKind: f.measuredKind ?? 'exact', measuredName: f.measuredName } : {}),
        ...(f.threshold !== undefined ? { threshold: f.threshold, thresholdName: f.thresholdName } : {}),
        ...(group.members ? { group: group.id, groupSize: group.members.length } : {}),
        model: opts.modelUri,
      },
    };
  }));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{
      tool: {
        driver: {
          name: 'gradient-doctor',
          version: opts.toolVersion,
          rules: RULES.map((rule) => ({
            id: rule.id,
            shortDescription: { text: rule.title },
            help: { text: `Gradient Doctor rule '${rule.id}': ${rule.title}. Each finding says what was measured, the threshold it crossed, why it matters and a fix; thresholds are overridable by name (README, "Findings and fixes").` },
          })),
        },
      },
      artifacts: [{ location: { uri: opts.modelUri }, hashes: { 'sha-256': r.model.sha256 } }],
      results,
    }],
  };
}

/** A result's text: the finding at this location, why and fix, and the group it belongs to. */
function messageOf(f: Finding, group: Finding): string {
  const of = group.members ? ` In the group: ${firstSentence(group.message)}` : '';
  return `${f.message}${of} Why: ${f.why}${f.fix ? ` Fix: ${f.fix}` : ''}`;
}

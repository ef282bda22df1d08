import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type * as Sarif from 'sarif';
import { memberFindings } from '../../../src/core/diagnosis/group';
import { decodeModel } from '../../../src/core/onnx/decode';
import { reportSarif } from '../../../src/core/report/sarif';
import type { AnalysisReport, Finding } from '../../../src/core/report/types';
import { locateFindings, locateNode, nodeSourceFrames } from '../../../src/core/sourceMap';
import { model, ROOT } from '../../helpers';

const schema = JSON.parse(readFileSync(path.join(ROOT, 'test', 'vendor', 'sarif-2.1.0.json'), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(schema);
const cli = path.join(ROOT, 'dist', 'cli.js');

function sarif(name: string, cwd: string, extra: string[] = []): Sarif.Log {
  const r = spawnSync(process.execPath, [cli, 'analyze', model(name), '--format', 'sarif', '--curvature-iterations', '0', ...extra], { encoding: 'utf8', cwd });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Sarif.Log;
}

describe('SARIF 2.1.0 output', () => {
  it('validates against the SARIF 2.1.0 JSON schema (vendored), one result per finding and location, rules with help', () => {
    const log = sarif('mlp_sigmoid', ROOT);
    assert.ok(validate(log), JSON.stringify(validate.errors?.slice(0, 5), null, 1));
    const broken = structuredClone(log);
    (broken.runs[0].results![0] as { level: string }).level = 'severe';
    assert.equal(validate(broken), false, 'the schema does reject a bad level');
    const run = log.runs[0] as Required<Sarif.Run>;
    const json = spawnSync(process.execPath, [cli, 'analyze', model('mlp_sigmoid'), '--format', 'json', '--curvature-iterations', '0'], { encoding: 'utf8' });
    const findings = JSON.parse(json.stdout).findings as Finding[];
    const locations = findings.flatMap(memberFindings);
    assert.equal(run.results.length, locations.length);
    assert.deepEqual(run.results.map((r) => r.partialFingerprints?.findingId), locations.map((f) => f.id));
    // a grouped finding keeps one result per location: the 12 contracting layers, each its own, the group named
    const group = findings.find((f) => f.rule === 'contracting-layer')!;
    const contracting = run.results.filter((r) => r.ruleId === 'contracting-layer');
    assert.equal(contracting.length, 12);
    assert.deepEqual(contracting.map((r) => r.locations?.[0].logicalLocations?.[0].name), group.members!.map((m) => m.layer));
    assert.deepEqual(contracting.map((r) => r.partialFingerprints?.findingId), group.members!.map((m) => m.id));
    assert.ok(contracting.every((r, i) => r.properties?.group === group.id && r.message.text?.startsWith(group.members![i].message)));
    assert.ok(contracting.every((r) => r.level === 'warning'));
    assert.equal(run.results[0].level, 'error');
    assert.equal(run.results[0].ruleId, 'vanishing-gradient');
    assert.equal(run.tool.driver.rules?.[run.results[0].ruleIndex!].id, 'vanishing-gradient');
    assert.equal(run.results[0].locations?.[0].physicalLocation?.artifactLocation?.uri, 'test/fixtures/models/mlp_sigmoid.onnx');
  });

  it('locates findings in the Python sources with --sources: the exporter\'s stack, else the module name', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gd-sarif-'));
    cpSync(path.join(ROOT, 'test', 'fixtures', 'make_fixtures.py'), path.join(dir, 'src', 'make_fixtures.py'));
    const lines = readFileSync(path.join(ROOT, 'test', 'fixtures', 'make_fixtures.py'), 'utf8').split('\n');
    const traced = sarif('mlp_traced', dir, ['--sources', dir]);
    assert.ok(validate(traced), JSON.stringify(validate.errors?.slice(0, 5), null, 1));
    const layer = traced.runs[0].results?.find((r) => r.ruleId === 'exploding-layer');
    assert.deepEqual(layer?.locations?.[0].physicalLocation, { artifactLocation: { uri: 'src/make_fixtures.py' }, region: { startLine: lines.findIndex((l) => /x = self\.act\(layer\(x\)\)/.test(l)) + 1 } });
    const plain = sarif('mlp_sigmoid', dir, ['--sources', dir]);
    const vanishing = plain.runs[0].results?.find((r) => r.ruleId === 'vanishing-gradient');
    assert.equal(vanishing?.locations?.[0].physicalLocation?.region?.startLine, lines.findIndex((l) => /self\.layers = nn\.ModuleList/.test(l)) + 1);
    assert.match(vanishing?.locations?.[0].message?.text ?? '', /best-effort match of module 'layers'/);
  });

  /** The fixtures' script copied to <dir>/src, and the line of the loop that applies every layer of the traced MLP. */
  function sourcesDir(): { dir: string; loopLine: number } {
    const dir = mkdtempSync(path.join(tmpdir(), 'gd-sarif-'));
    cpSync(path.join(ROOT, 'test', 'fixtures', 'make_fixtures.py'), path.join(dir, 'src', 'make_fixtures.py'));
    const lines = readFileSync(path.join(dir, 'src', 'make_fixtures.py'), 'utf8').split('\n');
    return { dir, loopLine: lines.findIndex((l) => /x = self\.act\(layer\(x\)\)/.test(l)) + 1 };
  }

  /** The SARIF results of a grouped finding's members (the traced MLP's six exploding layers), checked to be one per member. */
  function memberResults(log: Sarif.Log, report: AnalysisReport): Sarif.Result[] {
    const group = report.findings.find((f) => f.rule === 'exploding-layer' && f.members)!;
    assert.ok(group, 'the traced MLP\'s exploding layers are one group');
    const results = log.runs[0].results!.filter((r) => r.ruleId === 'exploding-layer');
    assert.deepEqual(results.map((r) => r.partialFingerprints?.findingId), group.members!.map((m) => m.id));
    return results;
  }

  it('places every member of a grouped finding on its Python line, not only the first (locateFindings)', () => {
    const { dir, loopLine } = sourcesDir();
    const json = spawnSync(process.execPath, [cli, 'analyze', model('mlp_traced'), '--format', 'json', '--curvature-iterations', '0'], { encoding: 'utf8' });
    assert.equal(json.status, 0, json.stderr);
    const report = JSON.parse(json.stdout) as AnalysisReport;
    const graph = decodeModel(readFileSync(model('mlp_traced'))).graph;
    const frames = Object.fromEntries(graph.nodes.map((n) => [n.name, nodeSourceFrames(n)]));
    const file = path.join(dir, 'src', 'make_fixtures.py');
    const files = [{ path: 'src/make_fixtures.py', text: readFileSync(file, 'utf8') }];
    const sources = locateFindings(report, (node) => locateNode(node, frames, files)[0]);
    const log = reportSarif(report, { modelUri: 'mlp_traced.onnx', sources, toolVersion: report.tool.version });
    assert.ok(validate(log), JSON.stringify(validate.errors?.slice(0, 5), null, 1));
    for (const r of memberResults(log, report)) {
      assert.deepEqual(r.locations?.[0].physicalLocation, { artifactLocation: { uri: 'src/make_fixtures.py' }, region: { startLine: loopLine } }, r.partialFingerprints?.findingId);
    }
  });

  it('--sources places every member of a grouped finding on its Python line', () => {
    const { dir, loopLine } = sourcesDir();
    const log = sarif('mlp_traced', dir, ['--sources', dir]);
    const json = spawnSync(process.execPath, [cli, 'analyze', model('mlp_traced'), '--format', 'json', '--curvature-iterations', '0'], { encoding: 'utf8' });
    for (const r of memberResults(log, JSON.parse(json.stdout) as AnalysisReport)) {
      assert.deepEqual(r.locations?.[0].physicalLocation, { artifactLocation: { uri: 'src/make_fixtures.py' }, region: { startLine: loopLine } }, r.partialFingerprints?.findingId);
    }
  });
});

/**
 * Judges the diagnosis against the training table (issue #14): runs the CLI on each model that
 * bench/training_table.py exported at its initial state, one model at a time, and compares the
 * verdict with whether the model trains.
 *
 *   /usr/bin/python3 bench/training_table.py --out /tmp/gd-train --table bench/training_table.json
 *   node esbuild.config.mjs
 *   node --import tsx bench/calibration.ts --models /tmp/gd-train [--table bench/training_table.json]
 *       [--cli dist/cli.js] [--commit SHA] [--timeout 300] [--only a,b] [--out bench/calibration.json] [-- extra CLI options]
 *
 * A model agrees with the table when
 *   - it does not train, and the verdict is `pathological`;
 *   - it trains, and the report has no error, at most MAX_WARNINGS warnings, and no exploding or
 *     vanishing finding (a rule of EXPLODING_VANISHING at warning or error).
 * A run that fails or passes the time limit is recorded with its reason and disagrees.
 * Prints the table and the confusion matrix and writes bench/calibration.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/** "At most a few warnings" (issue #14) for a model that trains. */
const MAX_WARNINGS = 3;

/** The rules that say a signal or gradient explodes or vanishes (across a layer, a stretch, the whole depth, or time). */
const EXPLODING_VANISHING = new Set([
  'exploding-gradient', 'vanishing-gradient', 'exploding-layer', 'contracting-layer', 'end-to-end-explosion', 'end-to-end-collapse',
  'lyapunov-exponent', 'plain-deep-stack', 'recurrent-spectral-radius',
]);

interface TableRow {
  model: string;
  file: string;
  inputShape: number[];
  trains: boolean;
  lossRatio: number | null;
  firstLastMovement: number | null;
  batchnorm: string;
  exportMode: string;
}

interface ReportFinding {
  rule: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
  measured?: number;
  measuredName?: string;
  threshold?: number;
  thresholdName?: string;
  members?: unknown[];
}

interface Report {
  verdict?: { status: string; headline?: string };
  findings: ReportFinding[];
  layers?: unknown[];
}

interface RuleCount {
  rule: string;
  severity: string;
  /** Findings of this rule and severity, and the layers (or nodes, weights) they cover: a grouped finding counts its members. */
  findings: number;
  members: number;
  /** The measured figures of those findings (a group's is its worst member's), with the name of the figure and the threshold. */
  measured: number[];
  measuredName?: string;
  threshold?: number;
  thresholdName?: string;
}

interface Row {
  model: string;
  trains: boolean;
  lossRatio: number | null;
  firstLastMovement: number | null;
  batchnorm: string;
  verdict: string;
  headline?: string;
  errors: number;
  warnings: number;
  infos: number;
  explodingVanishing: string[];
  agree: boolean;
  seconds: number;
  layers?: number;
  rules: RuleCount[];
  failure?: string;
}

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq ? eq.slice(name.length + 3) : fallback;
}

function analyse(cli: string, file: string, timeoutS: number, extra: string[]): { report?: Report; seconds: number; failure?: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'gd-calibration-'));
  const out = path.join(dir, 'report.json');
  const t0 = performance.now();
  try {
    const child = spawnSync(process.execPath, [cli, 'analyze', file, '--format', 'json', '--no-progress', '--out', out, ...extra], {
      encoding: 'utf8', timeout: timeoutS * 1000, killSignal: 'SIGKILL', maxBuffer: 1 << 26,
    });
    const seconds = (performance.now() - t0) / 1000;
    if (child.error && (child.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return { seconds, failure: `timed out after ${timeoutS} s` };
    if (child.status !== 0 || !existsSync(out)) {
      const tail = `${child.stderr ?? ''}${child.error ? ` ${child.error.message}` : ''}`.trim().split('\n').slice(-3).join(' | ');
      return { seconds, failure: `exit ${child.status ?? child.signal}: ${tail.slice(0, 400)}` };
    }
    return { report: JSON.parse(readFileSync(out, 'utf8')) as Report, seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function judge(t: TableRow, r: { report?: Report; seconds: number; failure?: string }): Row {
  const base = { model: t.model, trains: t.trains, lossRatio: t.lossRatio, firstLastMovement: t.firstLastMovement, batchnorm: t.batchnorm, seconds: Number(r.seconds.toFixed(1)) };
  if (!r.report) {
    return { ...base, verdict: 'failed', errors: 0, warnings: 0, infos: 0, explodingVanishing: [], agree: false, rules: [], failure: r.failure };
  }
  const findings = r.report.findings ?? [];
  const count = (s: string) => findings.filter((f) => f.severity === s).length;
  const byRule = new Map<string, RuleCount>();
  for (const f of findings) {
    const key = `${f.rule}|${f.severity}`;
    const c = byRule.get(key) ?? { rule: f.rule, severity: f.severity, findings: 0, members: 0, measured: [], measuredName: f.measuredName, threshold: f.threshold, thresholdName: f.thresholdName };
    c.findings++;
    c.members += f.members?.length ?? 1;
    if (f.measured !== undefined && Number.isFinite(f.measured)) c.measured.push(Number(f.measured.toPrecision(4)));
    byRule.set(key, c);
  }
  const ev = [...new Set(findings.filter((f) => f.severity !== 'info' && EXPLODING_VANISHING.has(f.rule)).map((f) => f.rule))];
  const verdict = r.report.verdict?.status ?? 'unknown';
  const errors = count('error');
  const warnings = count('warning');
  const agree = t.trains ? errors === 0 && warnings <= MAX_WARNINGS && ev.length === 0 : verdict === 'pathological';
  const sev = { error: 0, warning: 1, info: 2 } as Record<string, number>;
  return {
    ...base, verdict, headline: r.report.verdict?.headline, errors, warnings, infos: count('info'), explodingVanishing: ev, agree,
    layers: r.report.layers?.length,
    rules: [...byRule.values()].sort((a, b) => sev[a.severity] - sev[b.severity] || b.members - a.members),
  };
}

function printTable(rows: Row[]): void {
  const head = ['model', 'trains', 'loss ratio', 'first/last move', 'BatchNorm', 'verdict', 'errors', 'warnings', 'exploding/vanishing', 'agree', 's'];
  const lines = rows.map((r) => [
    r.model, r.trains ? 'yes' : 'no', r.lossRatio === null ? 'n/a' : r.lossRatio.toFixed(3), r.firstLastMovement === null ? 'n/a' : r.firstLastMovement.toPrecision(3),
    r.batchnorm, r.failure ? `failed (${r.failure.slice(0, 40)})` : r.verdict, String(r.errors), String(r.warnings), r.explodingVanishing.join(', ') || '—', r.agree ? 'yes' : 'NO', r.seconds.toFixed(1),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  console.log(fmt(head));
  console.log(`| ${w.map((n) => '-'.repeat(n)).join(' | ')} |`);
  for (const l of lines) console.log(fmt(l));
}

function confusion(rows: Row[]): { trainsPathological: number; trainsNot: number; failsPathological: number; failsNot: number } {
  const n = (trains: boolean, path: boolean) => rows.filter((r) => r.trains === trains && (r.verdict === 'pathological') === path).length;
  return { trainsPathological: n(true, true), trainsNot: n(true, false), failsPathological: n(false, true), failsNot: n(false, false) };
}

function main(): void {
  const models = arg('models');
  if (!models) {
    console.error('usage: node --import tsx bench/calibration.ts --models DIR [--table bench/training_table.json] [--cli dist/cli.js] [--timeout 300] [--only a,b] [--out bench/calibration.json] [-- extra analyze options]');
    process.exit(2);
  }
  const tableFile = arg('table', path.join(ROOT, 'bench', 'training_table.json'))!;
  const cli = path.resolve(arg('cli', path.join(ROOT, 'dist', 'cli.js'))!);
  const timeoutS = Number(arg('timeout', '300'));
  const outFile = arg('out', path.join(ROOT, 'bench', 'calibration.json'))!;
  const only = arg('only')?.split(',');
  const dash = process.argv.indexOf('--');
  const extra = dash >= 0 ? process.argv.slice(dash + 1) : [];
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build it with \`node esbuild.config.mjs\``);
  const table = JSON.parse(readFileSync(tableFile, 'utf8')) as { criteria: unknown; models: TableRow[] };
  const rows: Row[] = [];
  const t0 = performance.now();
  for (const t of table.models.filter((m) => !only || only.includes(m.model))) {
    const file = path.join(models, t.file);
    const r = existsSync(file) ? analyse(cli, file, timeoutS, extra) : { seconds: 0, failure: `${file} is missing: run bench/training_table.py --out ${models}` };
    const row = judge(t, r);
    rows.push(row);
    console.error(`${t.model}: ${row.failure ?? `${row.verdict}, ${row.errors} errors, ${row.warnings} warnings`} (${row.seconds} s) ${row.agree ? 'agrees' : 'DISAGREES'}`);
  }
  printTable(rows);
  const c = confusion(rows);
  console.log('');
  console.log('| | verdict pathological | verdict not pathological |');
  console.log('| --- | --- | --- |');
  console.log(`| trains | ${c.trainsPathological} | ${c.trainsNot} |`);
  console.log(`| does not train | ${c.failsPathological} | ${c.failsNot} |`);
  // what fires on the models that train: the false alarms the thresholds are to be calibrated against
  const alarms = new Map<string, string[]>();
  for (const r of rows.filter((x) => x.trains)) {
    for (const c of r.rules.filter((x) => x.severity !== 'info')) {
      const worst = c.measured.length ? ` ${c.measuredName ?? 'measured'} ${c.measured.join(', ')}${c.threshold !== undefined ? ` vs ${c.thresholdName ?? 'threshold'} ${c.threshold}` : ''}` : '';
      alarms.set(`${c.rule} (${c.severity})`, [...(alarms.get(`${c.rule} (${c.severity})`) ?? []), `${r.model} x${c.members}${worst}`]);
    }
  }
  if (alarms.size) {
    console.log('\nWarnings and errors on the models that train:');
    for (const [rule, where] of [...alarms].sort((a, b) => b[1].length - a[1].length)) console.log(`- ${rule}: ${where.join('; ')}`);
  }
  const agreeing = rows.filter((r) => r.agree).length;
  console.log(`\n${agreeing} of ${rows.length} agree (a model that trains agrees only with no error, at most ${MAX_WARNINGS} warnings and no exploding/vanishing finding).`);
  // the commit the CLI was built from: --commit, else this tree's HEAD (which a build of a dirty tree is not quite)
  const head = arg('commit') ?? spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  writeFileSync(outFile, `${JSON.stringify({
    criteria: {
      nonTrainer: 'verdict pathological',
      trainer: `no error, at most ${MAX_WARNINGS} warnings, no finding of ${[...EXPLODING_VANISHING].join(', ')} at warning or error`,
      cli: cli.startsWith(`${ROOT}${path.sep}`) ? path.relative(ROOT, cli) : cli,
      cliBuilt: statSync(cli).mtime.toISOString(),
      commit: head,
      options: ['--format', 'json', ...extra],
      timeoutSeconds: timeoutS,
      totalSeconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    },
    confusion: c,
    agree: agreeing,
    models: rows,
  }, null, 2)}\n`);
  console.error(`wrote ${outFile}`);
}

main();

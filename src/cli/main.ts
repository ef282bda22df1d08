import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { failsAt } from '../core/diagnosis/diagnose';
import { resolveThresholds } from '../core/diagnosis/thresholds';
import { formatWhatIf } from '../core/diagnosis/whatIf';
import type { AnalysisFlags, EngineOptions } from '../protocol/engine';
import type { AnalysisReport, Finding, LayerReport } from '../core/report/types';
import { formatFigure, type JacobianFigureName } from '../core/report/figures';
import { phaseSummary } from '../core/report/phase';
import type { Progress } from '../core/progress';
import { DoctorError, errorMessage, fileProblem, isDoctorError } from '../core/errors';
import { fmt, formatReportTable } from '../core/report/table';
import { analyzeFile, compareFiles, findingSources, inspectFile, whatIfFile, whatIfTarget } from '../runtime/engine';
import { reportNetron } from '../core/report/netron';
import { reportSarif } from '../core/report/sarif';
import { fileAtRevision } from '../runtime/git';
import { comparisonMarkdown, reportMarkdown } from '../core/report/markdown';
import { changeNotes, comparisonJson, pairFigure, ratioText, type Comparison } from '../core/review/compare';
import { readLabelsFile } from '../runtime/labels';
import { formatInspect } from '../core/report/inspectText';
import { standaloneHtml } from '../runtime/assets';
import { checkBeforeWork, type ReadFile } from './checks';
import { engineOptions, ExitCode, parseDim, parseInteger, parseNonNegative, parsePositive, type RunFlags } from './options';
import { INTERRUPTED_EXIT, reportFailure } from './failure';
import { DEFAULT_RUN_TIMEOUT_SECONDS } from '../runtime/runLimit';
import { createProgressReporter } from './progressBar';
import { DEFAULT_MEMORY_BUDGET_MB } from '../core/analysis/memory';

declare const GRADIENT_DOCTOR_VERSION: string;

function addRunOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--ep <provider>', 'execution provider').choices(['auto', 'cuda', 'cpu']).default('auto'))
    .option('--inputs <files...>', 'sample input files (.npy, .npz, .json) instead of synthesized samples')
    .option('--samples <n>', 'number of synthesized samples', parsePositive, 1)
    .option('--seed <n>', 'seed for synthesized samples', parseInteger, 0)
    .option('--dim <key=size>', 'size of a symbolic input dimension, by name (sequence=128) or as input:axis (x:1=512, for one with no name); repeatable', parseDim)
    .addOption(new Option('--distribution <d>', 'synthesized float inputs: normal N(0,1) or uniform U[0,1)').choices(['normal', 'uniform']).default('normal'))
    .option('--run-timeout <seconds>', 'time limit on each onnxruntime call; past it the process stops (0: none)', parseNonNegative, DEFAULT_RUN_TIMEOUT_SECONDS)
    .option('--no-progress', 'no progress bar on stderr');
}

/** Adds the analysis flags shared by `analyze` and `what-if`. */
function addAnalysisOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--loss <loss>', 'scalar loss for the gradient flow: auto (ce for class scores, nll for probabilities, else sum), sum, mse (half squared norm), ce (softmax cross-entropy) or nll (negative log-likelihood of probabilities)').choices(['auto', 'sum', 'mse', 'ce', 'nll']).default('auto'))
    .addOption(new Option('--loss-reduction <reduction>', 'combine the per-prediction losses by their mean (as PyTorch does; learning rates are quoted for it) or sum').choices(['mean', 'sum']).default('mean'))
    .addOption(new Option('--batchnorm <mode>', 'BatchNorm semantics: batch statistics of 16 samples as in training (folded BatchNorm re-inserted), the model\'s running statistics, or auto (batch when exported at initialisation)').choices(['auto', 'batch', 'running']).default('auto'))
    .option('--labels <file>', 'class labels for --loss ce: a JSON array of integers, one per prediction')
    .addOption(new Option('--granularity <g>', 'layers: each parameterized op, op + its bias/norm/activation, or module').choices(['op', 'layer', 'module']).default('layer'))
    .option('--momentum <beta>', 'heavy-ball momentum for the stable learning-rate bound', parseFloat, 0.9)
    .option('--curvature-iterations <n>', 'Lanczos steps for the Hessian eigenvalue (0 skips it)', parseInteger, 20)
    .option('--memory-budget <MiB>', 'memory the analysis may use: it lowers probe batches, then skips the curvature to fit, or refuses before any work', parsePositive, DEFAULT_MEMORY_BUDGET_MB)
    .option('--threshold <name=value>', 'override a diagnosis threshold (repeatable; names in the README)', parseThreshold)
    .option('--config <file>', 'a JSON config file with "thresholds", "learningRate", "weightDecay" (default: ./.gradient-doctor.json when present)')
    .option('--learning-rate <eta>', 'the learning rate you train with: a warning when it exceeds the stable bound', parseFloat)
    .option('--weight-decay <lambda>', 'the L2 weight decay you train with (raises the Hessian\'s top eigenvalue)', parseFloat);
}

/** Builds the `gradient-doctor` command line; actions record their exit code in `state`. */
export function buildProgram(state: { code: number } = { code: ExitCode.ok }): Command {
  const program = new Command('gradient-doctor')
    .description('Finds where an ONNX model\'s gradients vanish, explode or go ill-conditioned.')
    .version(typeof GRADIENT_DOCTOR_VERSION === 'string' ? GRADIENT_DOCTOR_VERSION : 'dev')
    .configureOutput({ outputError: (text, write) => write(`gradient-doctor: ${text}`) })
    .showHelpAfterError("(run 'gradient-doctor --help' for the commands)")
    .exitOverride();
  const command = (spec: string) => {
    const name = spec.split(' ')[0];
    return program.command(spec).showHelpAfterError(`(run 'gradient-doctor ${name} --help' for its options)`);
  };

  addRunOptions(command('inspect <model>').description('print the model summary: inputs, outputs, opset, parameters, operators, execution provider'))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'html']).default('table'))
    .option('--out <file>', 'write the output to a file instead of stdout')
    .action(async (model: string, flags: RunFlags & { format: 'table' | 'json' | 'html'; out?: string; progress: boolean }) => {
      checkBeforeWork([{ file: model, what: 'the model' }, ...inputReads(flags)], flags.out);
      const progress = createProgressReporter(flags.progress);
      try {
        const result = await inspectFile(model, engineOptions(flags), { onProgress: progress.update });
        progress.stop();
        const text =
          flags.format === 'json' ? JSON.stringify(result, null, 2)
          : flags.format === 'html' ? standaloneHtml(`${path.basename(result.file)}: Gradient Doctor`, result)
          : formatInspect(result);
        emit(text, flags.out);
        // the summary stands on its own; a model that does not run on the sample still exits 2, saying why
        if (result.forwardError) {
          process.stderr.write(`gradient-doctor: error: ${result.forwardError.startsWith(result.file) ? '' : `${result.file}: `}${result.forwardError}\n`);
          state.code = ExitCode.badInput;
        }
      } finally {
        progress.stop();
      }
    });

  addAnalysisOptions(addRunOptions(command('analyze <model>').description('probe every layer\'s Jacobian and the gradient flow, and report findings')))
    .addOption(new Option('--format <format>', 'output format (netron: the per-node figures as a Netron attachment)').choices(['table', 'json', 'md', 'sarif', 'html', 'netron']).default('table'))
    .option('--out <file>', 'write the report to a file instead of stdout')
    .addOption(new Option('--fail-on <level>', 'exit with 1 when a finding at this severity or above exists').choices(['error', 'warning', 'none']).default('none'))
    .option('--sources <dir>', 'with --format sarif: locate findings in the Python files under this folder (exporter stack traces, else module names)')
    .action(async (model: string, flags: RunFlags & AnalyzeCliFlags & { sources?: string }) => {
      checkBeforeWork([{ file: model, what: 'the model' }, ...inputReads(flags)], flags.out, flags.sources);
      const progress = createProgressReporter(flags.progress);
      try {
        const report = await analyzeUntilInterrupted(model, analysisOptions(flags), progress);
        progress.stop();
        if (report.run.phase) {
          process.stderr.write(`gradient-doctor: interrupted. ${phaseSummary(report, false)}\n`);
          state.code = INTERRUPTED_EXIT;
        }
        if (flags.format === 'json') emit(JSON.stringify(report, null, 2), flags.out);
        else if (flags.format === 'table') emit(formatReportTable(report), flags.out);
        else if (flags.format === 'html') emit(standaloneHtml(`${path.basename(report.model.path)}: Gradient Doctor report`, report), flags.out);
        else if (flags.format === 'md') emit(reportMarkdown(report), flags.out);
        else if (flags.format === 'netron') emit(JSON.stringify(reportNetron(report), null, 1), flags.out);
        else {
          const sources = flags.sources ? findingSources(model, report, flags.sources) : undefined;
          const modelUri = path.relative(process.cwd(), path.resolve(model)).split(path.sep).join('/');
          emit(JSON.stringify(reportSarif(report, { modelUri, sources, toolVersion: report.tool.version }), null, 2), flags.out);
        }
        if (flags.failOn !== 'none' && failsAt(report.findings, flags.failOn) && !report.run.phase) state.code = failOnExit(report.findings, flags.failOn);
      } finally {
        progress.stop();
      }
    });

  addAnalysisOptions(addRunOptions(command('compare <base> [candidate]').description('analyse two models with the same samples and compare them layer by layer (with --git-ref, one model against its version at a git revision)')))
    .option('--git-ref <ref>', 'compare <base> (the working copy) against its version at this git revision')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'md', 'html']).default('table'))
    .option('--out <file>', 'write the comparison to a file instead of stdout')
    .addOption(new Option('--fail-on <level>', 'exit with 1 when the candidate has a finding at this severity or above').choices(['error', 'warning', 'none']).default('none'))
    .option('--fail-on-regression', 'exit with 1 when the candidate introduces a warning or error, or a layer figure crosses a threshold')
    .action(async (first: string, second: string | undefined, flags: RunFlags & AnalyzeCliFlags & { gitRef?: string; failOnRegression?: boolean }) => {
      if (!second && !flags.gitRef) throw new DoctorError('bad-input', 'compare needs two models, or one model and --git-ref');
      if (second && flags.gitRef) throw new DoctorError('bad-input', 'give two models or one model with --git-ref, not both');
      checkBeforeWork([{ file: first, what: 'the model' }, ...(second ? [{ file: second, what: 'the candidate model' }] : []), ...inputReads(flags)], flags.out);
      const [basePath, candidatePath] = flags.gitRef ? [fileAtRevision(first, flags.gitRef), first] : [first, second!];
      const progress = createProgressReporter(flags.progress);
      try {
        const result = await compareFiles(basePath, candidatePath, analysisOptions(flags), { onProgress: progress.update });
        const { comparison, candidate } = result;
        progress.stop();
        const text = flags.format === 'json' ? comparisonJson(result)
          : flags.format === 'md' ? comparisonMarkdown(comparison)
          : flags.format === 'html' ? standaloneHtml(`${path.basename(candidatePath)} against ${path.basename(basePath)}: Gradient Doctor`, { comparison })
          : formatComparison(comparison);
        emit(text, flags.out);
        if (flags.failOn !== 'none' && failsAt(candidate.findings, flags.failOn)) state.code = failOnExit(candidate.findings, flags.failOn, 'the candidate');
        if (flags.failOnRegression && comparison.regressions.length) {
          const n = comparison.regressions.length;
          process.stderr.write(`gradient-doctor: exit 1: ${n} regression${n === 1 ? '' : 's'} (--fail-on-regression)\n`);
          state.code = ExitCode.findings;
        }
      } finally {
        progress.stop();
      }
    });

  addAnalysisOptions(addRunOptions(command('what-if <model>').description('apply the findings\' fixes to an in-memory copy, re-analyse it and compare before and after')))
    .option('--fix <ids...>', 'finding ids (e.g. exploding-layer:/layers.0/Gemm) or rule ids (e.g. mis-scaled-init) whose fixes to apply; default: all')
    .option('--write [file]', 'also write the patched copy (default <model>.whatif.onnx beside it; never overwrites)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('--out <file>', 'write the comparison to a file instead of stdout')
    .action(async (model: string, flags: RunFlags & AnalyzeCliFlags & { fix?: string[]; write?: boolean | string }) => {
      checkBeforeWork([{ file: model, what: 'the model' }, ...inputReads(flags)], flags.out);
      if (flags.write) whatIfTarget(model, flags.write);
      const progress = createProgressReporter(flags.progress);
      try {
        const result = await whatIfFile(model, { fixes: flags.fix ?? [], write: flags.write }, analysisOptions(flags), { onProgress: progress.update });
        progress.stop();
        emit(flags.format === 'json' ? JSON.stringify(result, null, 2) : formatWhatIf(result, fmt), flags.out);
      } finally {
        progress.stop();
      }
    });
  return program;
}

/** The comparison as a table for a terminal. */
function formatComparison(c: Comparison): string {
  const lines = [`Base       ${c.base.path} (${c.base.verdict})`, `Candidate  ${c.candidate.path} (${c.candidate.verdict})`];
  if (c.samplesNote) lines.push(`Note       ${c.samplesNote}`);
  lines.push('');
  const header = ['layer', 'status', 'rms gain', '', 'σmax', '', 'σmin', '', '‖∂L/∂in‖', '', 'change'];
  const fig = (l: LayerReport | undefined, name: JacobianFigureName | 'gradient') => (l ? formatFigure(pairFigure(l, name)) : '—');
  const rows = c.layers.map((p) => [
    p.candidate?.name ?? p.base!.name, p.status === 'matched' ? (p.match === 'name' ? 'matched' : `by ${p.match}`) : p.status,
    fig(p.base, 'rmsGain'), fig(p.candidate, 'rmsGain'), fig(p.base, 'sigmaMax'), fig(p.candidate, 'sigmaMax'),
    fig(p.base, 'sigmaMin'), fig(p.candidate, 'sigmaMin'), fig(p.base, 'gradient'), fig(p.candidate, 'gradient'), ratioText(p.change.gradient),
  ]);
  const sub = ['', '', 'base', 'candidate', 'base', 'candidate', 'base', 'candidate', 'base', 'candidate', ''];
  const widths = header.map((_, i) => Math.min(Math.max(...[header, sub, ...rows].map((r) => r[i].length)), i === 0 ? 40 : 16));
  const line = (cells: string[]) => cells.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd();
  lines.push(line(header), line(sub), ...rows.map(line), '');
  const notes = changeNotes(c, ['gradient']);
  if (notes.length) lines.push(...notes, '');
  lines.push(`Regressions ${c.regressions.length}`, ...c.regressions.map((r) => `  ✗ ${r}`));
  lines.push(`Introduced  ${c.introduced.length}`, ...c.introduced.map((f) => `  + [${f.severity} ${f.rule}] ${f.message}`));
  lines.push(`Resolved    ${c.resolved.length}`, ...c.resolved.map((f) => `  ✓ [${f.severity} ${f.rule}] ${f.message}`));
  return lines.join('\n');
}

/** Engine options and analysis flags from the command line, with the config file's values under the flags'. */
function analysisOptions(flags: RunFlags & AnalyzeCliFlags): Partial<EngineOptions> & Partial<AnalysisFlags> {
  const config = readConfig(flags.config);
  return {
    ...engineOptions(flags),
    loss: flags.loss,
    lossReduction: flags.lossReduction,
    batchNorm: flags.batchnorm,
    labels: flags.labels ? readLabelsFile(flags.labels) : undefined,
    granularity: flags.granularity,
    momentum: flags.momentum,
    curvatureIterations: flags.curvatureIterations,
    memoryBudgetMB: flags.memoryBudget,
    thresholds: { ...config.thresholds, ...(flags.threshold ?? {}) },
    learningRate: flags.learningRate ?? config.learningRate,
    weightDecay: flags.weightDecay ?? config.weightDecay,
  };
}

interface AnalyzeCliFlags {
  format: 'table' | 'json' | 'md' | 'sarif' | 'html' | 'netron';
  out?: string;
  progress: boolean;
  loss: 'auto' | 'sum' | 'mse' | 'ce' | 'nll';
  lossReduction: 'mean' | 'sum';
  batchnorm: 'auto' | 'batch' | 'running';
  labels?: string;
  granularity: 'op' | 'layer' | 'module';
  momentum: number;
  curvatureIterations: number;
  memoryBudget: number;
  failOn: 'error' | 'warning' | 'none';
  threshold?: Record<string, number>;
  config?: string;
  learningRate?: number;
  weightDecay?: number;
}

/** commander parser for repeated `--threshold name=value`. */
function parseThreshold(value: string, previous: Record<string, number> | undefined): Record<string, number> {
  const m = /^([A-Za-z]+)=(.+)$/.exec(value);
  const n = m ? Number(m[2]) : NaN;
  if (!m || !Number.isFinite(n)) throw new InvalidArgumentError(`'${value}' is not NAME=NUMBER (e.g. illConditioned=1e5).`);
  resolveThresholds({ [m[1]]: n }, '--threshold');
  return { ...previous, [m[1]]: n };
}

interface ConfigFile {
  thresholds?: Record<string, number>;
  learningRate?: number;
  weightDecay?: number;
}

/** The config file: the one named, or ./.gradient-doctor.json when it exists; its thresholds are checked by name. */
function readConfig(file: string | undefined): ConfigFile {
  const target = file ?? (existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined);
  if (!target) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(target, 'utf8'));
  } catch (e) {
    throw new DoctorError('bad-input', `cannot read the config file (${errorMessage(e)})`, target);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new DoctorError('bad-input', 'the config file must hold a JSON object', target);
  const c = parsed as Record<string, unknown>;
  const known = ['thresholds', 'learningRate', 'weightDecay'];
  const unknown = Object.keys(c).filter((k) => !known.includes(k));
  if (unknown.length) throw new DoctorError('bad-input', `unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} in the config file; known: ${known.join(', ')}`, target);
  for (const k of ['learningRate', 'weightDecay']) {
    if (c[k] !== undefined && (typeof c[k] !== 'number' || (c[k] as number) < 0)) throw new DoctorError('bad-input', `"${k}" in the config file must be a non-negative number`, target);
  }
  if (c.thresholds !== undefined) {
    if (typeof c.thresholds !== 'object' || c.thresholds === null) throw new DoctorError('bad-input', '"thresholds" in the config file must be an object of name: number', target);
    resolveThresholds(c.thresholds as Record<string, unknown>, `the config file ${target}`);
  }
  return c as ConfigFile;
}

const DEFAULT_CONFIG = '.gradient-doctor.json';

/** The sample, label and config files the flags name, for {@link checkBeforeWork}. */
function inputReads(flags: RunFlags & { labels?: string; config?: string }): ReadFile[] {
  return [
    ...(flags.inputs ?? []).map((file) => ({ file, what: 'the sample file' })),
    ...(flags.labels ? [{ file: flags.labels, what: 'the labels file' }] : []),
    ...(flags.config ? [{ file: flags.config, what: 'the config file' }] : []),
  ];
}

/** Exit code 1 for --fail-on, saying why on stderr (stdout holds the report). */
function failOnExit(findings: Finding[], level: 'error' | 'warning', whose = 'the report'): number {
  const counted = findings.filter((f) => f.severity === 'error' || (level === 'warning' && f.severity === 'warning'));
  const errors = counted.filter((f) => f.severity === 'error').length;
  const warnings = counted.length - errors;
  const parts = [errors ? `${errors} error${errors === 1 ? '' : 's'}` : '', warnings ? `${warnings} warning${warnings === 1 ? '' : 's'}` : ''].filter(Boolean);
  process.stderr.write(`gradient-doctor: exit 1: ${whose} has ${parts.join(' and ')} (--fail-on ${level})\n`);
  return ExitCode.findings;
}

function emit(text: string, out: string | undefined): void {
  const body = text.endsWith('\n') ? text : text + '\n';
  if (!out) {
    process.stdout.write(body);
    return;
  }
  try {
    writeFileSync(out, body);
  } catch (e) {
    throw new DoctorError('bad-input', `cannot write --out (${fileProblem(e)})`, out);
  }
}

/**
 * Analyses a model for the CLI: the progress shows the phase once the first answer is in, and
 * Ctrl-C (SIGINT) then stops the analysis and returns the figures done so far (a report with
 * run.phase set) instead of nothing; before the first answer it stops with the 'cancelled' error. A
 * second Ctrl-C ends the process at once (the handler is registered once).
 */
export async function analyzeUntilInterrupted(model: string, options: Parameters<typeof analyzeFile>[1], progress: { update: (p: Progress) => void }): Promise<AnalysisReport> {
  const abort = new AbortController();
  const interrupt = () => abort.abort();
  process.once('SIGINT', interrupt);
  let latest: AnalysisReport | undefined;
  let status = '';
  try {
    return await analyzeFile(model, options, {
      signal: abort.signal,
      yieldToEventLoop: () => new Promise((resolve) => setImmediate(resolve)),
      onProgress: (p) => progress.update({ ...p, message: `${status}${p.message}` }),
      onPartial: (partial) => {
        latest = partial;
        if (partial.run.phase === 'first-answer') status = `first answer in ${((partial.run.firstAnswerMs ?? 0) / 1000).toFixed(1)} s: ${partial.verdict?.status ?? '?'}; refining · `;
      },
    });
  } catch (e) {
    if (isDoctorError(e) && e.kind === 'cancelled' && latest) return latest;
    throw e;
  } finally {
    process.off('SIGINT', interrupt);
  }
}

/** Runs the CLI and returns its exit code. */
export async function main(argv: string[]): Promise<number> {
  const state: { code: number } = { code: ExitCode.ok };
  const program = buildProgram(state);
  try {
    await program.parseAsync(argv);
    return state.code;
  } catch (e) {
    return reportFailure(e);
  }
}

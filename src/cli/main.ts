import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { DoctorError, errorMessage, isDoctorError } from '../core/errors';
import { formatReportTable } from '../core/report/table';
import { analyzeFile, inspectFile } from '../runtime/engine';
import { formatInspect } from '../core/report/inspectText';
import { standaloneHtml } from './assets';
import { engineOptions, ExitCode, parseDim, parseInteger, parsePositive, type RunFlags } from './options';
import { createProgressReporter } from './progressBar';

declare const GRADIENT_DOCTOR_VERSION: string;

function addRunOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--ep <provider>', 'execution provider').choices(['auto', 'cuda', 'cpu']).default('auto'))
    .option('--inputs <files...>', 'sample input files (.npy, .npz, .json) instead of synthesized samples')
    .option('--samples <n>', 'number of synthesized samples', parsePositive, 1)
    .option('--seed <n>', 'seed for synthesized samples', parseInteger, 0)
    .option('--dim <name=size>', 'size of a symbolic input dimension (repeatable)', parseDim, {})
    .addOption(new Option('--distribution <d>', 'synthesized float inputs: normal N(0,1) or uniform U[0,1)').choices(['normal', 'uniform']).default('normal'))
    .option('--no-progress', 'no progress bar on stderr');
}

/** Builds the `gradient-doctor` command line. */
export function buildProgram(): Command {
  const program = new Command('gradient-doctor')
    .description('Finds where an ONNX model\'s gradients vanish, explode or go ill-conditioned.')
    .version(typeof GRADIENT_DOCTOR_VERSION === 'string' ? GRADIENT_DOCTOR_VERSION : 'dev')
    .showHelpAfterError()
    .exitOverride();

  addRunOptions(program.command('inspect <model>').description('print the model summary: inputs, outputs, opset, parameters, operators, execution provider'))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'html']).default('table'))
    .option('--out <file>', 'write the output to a file instead of stdout')
    .action(async (model: string, flags: RunFlags & { format: 'table' | 'json' | 'html'; out?: string; progress: boolean }) => {
      const progress = createProgressReporter(flags.progress);
      try {
        const result = await inspectFile(model, engineOptions(flags), { onProgress: progress.update });
        progress.stop();
        const text =
          flags.format === 'json' ? JSON.stringify(result, null, 2)
          : flags.format === 'html' ? standaloneHtml(`${path.basename(result.file)}: Gradient Doctor`, result)
          : formatInspect(result);
        emit(text, flags.out);
      } finally {
        progress.stop();
      }
    });

  addRunOptions(program.command('analyze <model>').description('probe every layer\'s Jacobian and the gradient flow, and report findings'))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'md', 'sarif', 'html']).default('table'))
    .option('--out <file>', 'write the report to a file instead of stdout')
    .addOption(new Option('--loss <loss>', 'scalar loss for the gradient flow: sum, mse (half squared norm) or ce (softmax cross-entropy)').choices(['sum', 'mse', 'ce']).default('sum'))
    .option('--labels <file>', 'class labels for --loss ce: a JSON array of integers, one per prediction')
    .addOption(new Option('--granularity <g>', 'layers: each parameterized op, op + its bias/norm/activation, or module').choices(['op', 'layer', 'module']).default('layer'))
    .option('--momentum <beta>', 'heavy-ball momentum for the stable learning-rate bound', parseFloat, 0.9)
    .option('--curvature-iterations <n>', 'Lanczos steps for the Hessian eigenvalue (0 skips it)', parseInteger, 20)
    .action(async (model: string, flags: RunFlags & AnalyzeCliFlags) => {
      const progress = createProgressReporter(flags.progress);
      try {
        const labels = flags.labels ? readLabels(flags.labels) : undefined;
        const report = await analyzeFile(model, {
          ...engineOptions(flags),
          loss: flags.loss,
          labels,
          granularity: flags.granularity,
          momentum: flags.momentum,
          curvatureIterations: flags.curvatureIterations,
        }, { onProgress: progress.update });
        progress.stop();
        if (flags.format === 'json') emit(JSON.stringify(report, null, 2), flags.out);
        else if (flags.format === 'table') emit(formatReportTable(report), flags.out);
        else throw new DoctorError('bad-input', `--format ${flags.format} lands with the report and review issues; use table or json`);
      } finally {
        progress.stop();
      }
    });
  return program;
}

interface AnalyzeCliFlags {
  format: 'table' | 'json' | 'md' | 'sarif' | 'html';
  out?: string;
  progress: boolean;
  loss: 'sum' | 'mse' | 'ce';
  labels?: string;
  granularity: 'op' | 'layer' | 'module';
  momentum: number;
  curvatureIterations: number;
}

function readLabels(file: string): number[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DoctorError('bad-input', `cannot read labels (${errorMessage(e)})`, file);
  }
  if (!Array.isArray(parsed) || parsed.some((x) => !Number.isInteger(x))) throw new DoctorError('bad-input', 'labels must be a JSON array of integers', file);
  return parsed as number[];
}

function emit(text: string, out: string | undefined): void {
  if (out) writeFileSync(out, text.endsWith('\n') ? text : text + '\n');
  else process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

/** Runs the CLI and returns its exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return ExitCode.ok;
    if (typeof code === 'string' && code.startsWith('commander.')) return ExitCode.badInput;
    if (isDoctorError(e)) {
      process.stderr.write(`gradient-doctor: error: ${e.message}\n`);
      return ExitCode.badInput;
    }
    process.stderr.write(`gradient-doctor: internal error: ${errorMessage(e)}\n${e instanceof Error ? e.stack : ''}\n`);
    return ExitCode.internal;
  }
}

import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { errorMessage, isDoctorError } from '../core/errors';
import { inspectFile } from '../runtime/engine';
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
    .action(() => {
      throw new Error('analyze: the analysis engine is not built yet');
    });
  return program;
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

import type { AnalysisReport } from './types';

/** One line on how BatchNorm was analysed (run.batchNorm), for the table, Markdown and HTML header; undefined when the model has none. */
export function batchNormNote(run: AnalysisReport['run']): string | undefined {
  const bn = run.batchNorm;
  if (!bn) return undefined;
  const semantics = bn.mode === 'batch'
    ? `batch statistics of ${bn.batchSize ?? '?'} samples (${bn.passes ?? '?'} forward pass${bn.passes === 1 ? '' : 'es'}), frozen for the Jacobians`
    : 'running statistics';
  const detected = [
    bn.folded.length ? `${bn.folded.length} folded into convolutions by the exporter${bn.mode === 'batch' ? ', re-inserted' : ', figures without normalisation'}` : '',
    bn.defaultStatistics.length ? `${bn.defaultStatistics.length} at default statistics` : '',
    bn.trainedStatistics.length ? `${bn.trainedStatistics.length} with trained statistics` : '',
    bn.dropout.length ? `${bn.dropout.length} Dropout as identity` : '',
  ].filter(Boolean).join(', ');
  return `${semantics}${detected ? ` · ${detected}` : ''} · ${bn.reason}`;
}

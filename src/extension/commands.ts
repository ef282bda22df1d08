/** Command ids, mirroring package.json `contributes.commands`. */
export const CommandId = {
  analyzeModel: 'gradientDoctor.analyzeModel',
  inspectModel: 'gradientDoctor.inspectModel',
  showOutline: 'gradientDoctor.showOutline',
  exportReport: 'gradientDoctor.exportReport',
  compareModels: 'gradientDoctor.compareModels',
  compareWithRevision: 'gradientDoctor.compareWithRevision',
  exportComparison: 'gradientDoctor.exportComparison',
  previewFix: 'gradientDoctor.previewFix',
  /** Internal (CodeLens): shows a finding's fix with a button to preview it. */
  showFix: 'gradientDoctor.showFix',
  clearAnalysis: 'gradientDoctor.clearAnalysis',
  cancelAnalysis: 'gradientDoctor.cancelAnalysis',
  showLog: 'gradientDoctor.showLog',
} as const;

/** One of the extension's command ids. */
export type CommandId = (typeof CommandId)[keyof typeof CommandId];

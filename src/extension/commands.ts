/** Command ids, mirroring package.json `contributes.commands`. */
export const CommandId = {
  inspectModel: 'gradientDoctor.inspectModel',
  showLog: 'gradientDoctor.showLog',
} as const;

/** One of the extension's command ids. */
export type CommandId = (typeof CommandId)[keyof typeof CommandId];

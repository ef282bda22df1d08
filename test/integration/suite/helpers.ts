import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GradientDoctorApi } from '../../../src/extension/extension';

/** The extension's id (publisher.name). */
export const EXTENSION_ID = 'gradient-doctor.gradient-doctor';

/** The test workspace folder (copies of the fixtures). */
export function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('the integration tests need a workspace folder');
  return folder.uri.fsPath;
}

/** A file in the test workspace. */
export function workspaceUri(...parts: string[]): vscode.Uri {
  return vscode.Uri.file(path.join(workspaceDir(), ...parts));
}

/** Activates the extension and returns its API. */
export async function api(): Promise<GradientDoctorApi> {
  const ext = vscode.extensions.getExtension<GradientDoctorApi>(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not installed`);
  return ext.activate();
}

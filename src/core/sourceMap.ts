import { memberFindings } from './diagnosis/group';
import type { Node } from './onnx/types';
import type { AnalysisReport, Finding } from './report/types';

/** A Python frame an exporter recorded for a node. */
export interface SourceFrame {
  file: string;
  /** 1-based line. */
  line: number;
  function?: string;
}

/** A place in the user's Python sources that a node maps to. */
export interface SourceMatch {
  file: string;
  /** 1-based line. */
  line: number;
  /** 'stack' when the exporter recorded it; 'module' when matched by module name (best effort). */
  how: 'stack' | 'module';
  /** What was matched: the frame's function, or the module attribute. */
  what: string;
}

/**
 * The Python frames a node carries, innermost first: torch.onnx.export(verbose=True) writes
 * `path(line): function` lines into doc_string; the dynamo exporter writes `File "path", line N,
 * in function` into metadata_props (pkg.torch.onnx.stack_trace).
 */
export function nodeSourceFrames(node: Node): SourceFrame[] {
  const texts = [node.docString ?? '', ...Object.values(node.metadata ?? {})];
  const frames: SourceFrame[] = [];
  for (const text of texts) {
    for (const m of text.matchAll(/^\s*(.+\.py)\((\d+)\): (\S+)\s*$/gm)) frames.push({ file: m[1], line: Number(m[2]), function: m[3] });
    for (const m of text.matchAll(/File "([^"]+\.py)", line (\d+)(?:, in (\S+))?/g)) frames.push({ file: m[1], line: Number(m[2]), function: m[3] });
  }
  return frames;
}

/** Frames inside libraries (torch, site-packages) are not the user's code. */
export function isLibraryFrame(file: string): boolean {
  return /[\\/](site-packages|dist-packages|lib[\\/]python\d[.\d]*)[\\/]/.test(file) || /[\\/]torch[\\/]/.test(file);
}

/**
 * Resolves recorded frames against the workspace's Python files: the innermost frame outside the
 * libraries whose file is in the workspace, matched by the longest common path suffix (the model
 * may have been exported on another machine).
 */
export function matchFrames(frames: SourceFrame[], workspaceFiles: string[]): SourceMatch | undefined {
  for (const f of frames) {
    if (isLibraryFrame(f.file)) continue;
    const file = bestSuffixMatch(f.file, workspaceFiles);
    if (file) return { file, line: f.line, how: 'stack', what: f.function ?? f.file };
  }
  return undefined;
}

function bestSuffixMatch(recorded: string, candidates: string[]): string | undefined {
  const parts = recorded.split(/[\\/]/);
  let best: string | undefined;
  let bestLen = 0;
  for (const c of candidates) {
    const cp = c.split(/[\\/]/);
    let k = 0;
    while (k < parts.length && k < cp.length && parts[parts.length - 1 - k] === cp[cp.length - 1 - k]) k++;
    if (k > bestLen) {
      best = c;
      bestLen = k;
    }
  }
  return best;
}

/**
 * The module path a node name carries, dotted: `/layer1/layer1.0/conv1/Conv` gives
 * `layer1.0.conv1` (each segment is the cumulative name of a submodule, the last one the op).
 */
export function modulePathOf(nodeName: string): string | undefined {
  if (!nodeName.startsWith('/')) return undefined;
  const parts = nodeName.split('/').filter(Boolean);
  return parts.length > 1 ? parts[parts.length - 2] : undefined;
}

/**
 * Where a module is defined in the workspace's Python files, best effort: the innermost named
 * attribute of the dotted path (`conv1` of `layer1.0.conv1`) assigned as `self.conv1 = ...`, or for
 * an index into a container (`layers.0`), the container's assignment, narrowed to the index-th
 * argument of an nn.Sequential(...) written out one module per argument.
 */
export function findModuleDefinitions(modulePath: string, files: Array<{ path: string; text: string }>): SourceMatch[] {
  const attrs = modulePath.split('.');
  for (let i = attrs.length - 1; i >= 0; i--) {
    const name = attrs[i];
    if (/^\d+$/.test(name) || !/^[A-Za-z_]\w*$/.test(name)) continue;
    const index = i + 1 < attrs.length && /^\d+$/.test(attrs[i + 1]) ? Number(attrs[i + 1]) : undefined;
    const found: SourceMatch[] = [];
    const assign = new RegExp(`^[ \\t]*self\\.${name}[ \\t]*(?::[^=\\n]*)?=(?!=)`, 'gm');
    for (const f of files) {
      for (const m of f.text.matchAll(assign)) {
        const at = m.index ?? 0;
        const line = lineOf(f.text, at);
        const item = index !== undefined ? sequentialItemLine(f.text, at + m[0].length, index) : undefined;
        found.push({ file: f.path, line: item ?? line, how: 'module', what: index !== undefined && item !== undefined ? `${name}[${index}]` : name });
      }
    }
    if (found.length) return found;
  }
  return [];
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The line of the index-th top-level argument of `nn.Sequential(` starting after `from`, if it is one. */
function sequentialItemLine(text: string, from: number, index: number): number | undefined {
  const m = /^\s*(?:nn\.|torch\.nn\.)?Sequential\(/.exec(text.slice(from, from + 200));
  if (!m) return undefined;
  let depth = 1;
  let arg = 0;
  let argStart: number | undefined;
  for (let i = from + m[0].length; i < text.length && depth > 0; i++) {
    const c = text[i];
    if (argStart === undefined && !/\s/.test(c) && c !== ')') argStart = i;
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === '#') while (i < text.length && text[i] !== '\n') i++;
    if ((c === ',' && depth === 1) || depth === 0) {
      if (arg === index && argStart !== undefined) return lineOf(text, argStart);
      arg++;
      argStart = undefined;
    }
  }
  return undefined;
}

/** The node a finding is about: its node, its layer's first node, or the first reader of its parameter. */
export function findingNode(report: AnalysisReport, f: Finding): string | undefined {
  if (f.node) return f.node;
  const layerName = f.layer ?? (f.parameter ? report.parameters.find((p) => p.name === f.parameter)?.layer : undefined);
  return report.layers.find((l) => l.name === layerName)?.nodes[0];
}

/** Where in the Python sources a node belongs: its recorded frames, else its module's definitions (at most 3). */
export function locateNode(node: string, frames: Record<string, SourceFrame[]>, files: Array<{ path: string; text: string }>): SourceMatch[] {
  const recorded = frames[node];
  const exact = recorded ? matchFrames(recorded, files.map((p) => p.path)) : undefined;
  if (exact) return [exact];
  const module = modulePathOf(node);
  return module ? findModuleDefinitions(module, files).slice(0, 3) : [];
}

/**
 * Where each finding of a report belongs in the Python sources, by finding id: every member of a
 * grouped finding by its own id (each is a place of its own), and the group by its first member's
 * place. `locate` places a node (see locateNode); a finding it cannot place is left out.
 */
export function locateFindings(report: AnalysisReport, locate: (node: string) => SourceMatch | undefined): Map<string, SourceMatch> {
  const out = new Map<string, SourceMatch>();
  for (const group of report.findings) {
    for (const [i, f] of memberFindings(group).entries()) {
      const node = findingNode(report, f);
      const match = node !== undefined ? locate(node) : undefined;
      if (!match) continue;
      out.set(f.id, match);
      if (i === 0) out.set(group.id, match);
    }
  }
  return out;
}

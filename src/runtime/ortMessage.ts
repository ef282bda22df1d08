/** A C++ source location as onnxruntime puts it in front of its messages: `graph.cc:1463 `. */
const LOCATION = /(?:[\w.\\/-]*[\\/])?[\w.-]+\.(?:cc|cpp|cxx|c|h|hpp|cu|cuh):\d+ /g;

/**
 * onnxruntime's error text without what only its developers can use: the `[ONNXRuntimeError] : 1 :
 * FAIL :` prefix, C++ source locations and the function signatures after them
 * (`model_load_utils.h:46 void onnxruntime::model_load_utils::ValidateOpsetForDomain(...) `), and
 * trailing stack traces. What onnxruntime says about the model is kept word for word.
 */
export function cleanOrtMessage(message: string): string {
  let m = message.replace(/^Error: /, '').replace(/\[ONNXRuntimeError\] : \d+ : \w+ : /g, '');
  m = m.replace(/\n?Stacktrace:\n[\s\S]*$/, '');
  let out = '';
  let last = 0;
  for (const match of m.matchAll(LOCATION)) {
    const start = match.index ?? 0;
    if (start < last) continue;
    out += m.slice(last, start);
    last = start + match[0].length + functionLength(m, start + match[0].length);
  }
  return (out + m.slice(last)).replace(/\s+/g, ' ').trim();
}

/** The length of the function name or signature (and the space after it) at `from`, or 0. */
function functionLength(m: string, from: number): number {
  const rest = m.slice(from);
  const open = rest.indexOf('(');
  const head = open >= 0 ? rest.slice(0, open) : '';
  // a pretty signature: return type, qualifiers and a qualified name up to its parameter list
  if (open > 0 && /^[\w:<>,*&~ ]+$/.test(head) && /[\w>]$/.test(head)) {
    let depth = 0;
    for (let i = open; i < rest.length; i++) {
      if (rest[i] === '(') depth++;
      else if (rest[i] === ')' && --depth === 0) {
        const tail = /^(?: const)?(?: noexcept)? ?/.exec(rest.slice(i + 1))?.[0] ?? '';
        return i + 1 + tail.length;
      }
    }
    return 0;
  }
  // a bare function name: qualified, or an identifier with inner capitals or underscores
  const bare = /^([A-Za-z_][\w]*(?:::[\w~]+)*) /.exec(rest);
  if (bare && (bare[1].includes('::') || bare[1].includes('_') || /[a-z][A-Z]/.test(bare[1]))) return bare[0].length;
  return 0;
}

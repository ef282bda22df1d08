#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function, and total time of
// functions (inclusive), the top N of each. Usage: node scripts/profile-summary.mjs FILE [N]
import { readFileSync } from 'node:fs';

const [file, n = '25'] = process.argv.slice(2);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of prof.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
const dt = new Map();
prof.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const label = (node) => `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').slice(-2).join('/')}:${node.callFrame.lineNumber + 1}`;
const self = new Map();
const total = new Map();
let all = 0;
for (const [id, t] of dt) {
  all += t;
  const l = label(byId.get(id));
  self.set(l, (self.get(l) ?? 0) + t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const lc = label(byId.get(cur));
    if (!seen.has(lc)) total.set(lc, (total.get(lc) ?? 0) + t);
    seen.add(lc);
  }
}
const show = (title, m) => {
  console.log(`\n${title} (of ${(all / 1e6).toFixed(2)} s)`);
  for (const [l, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) console.log(`${(t / 1e6).toFixed(2).padStart(8)} s ${((100 * t) / all).toFixed(1).padStart(5)}%  ${l}`);
};
show('self', self);
show('inclusive', total);

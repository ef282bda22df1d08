/**
 * The exact path's dense eigen-solve (all singular values of a layer's Jacobian from its Gram
 * matrix) at n = 256, 512 and 1024, side by side: the reduction to tridiagonal form column by
 * column (LAPACK's dsytd2: block 1, the solver before the blocked reduction, commit 04fcebb, less
 * its full-matrix updates) and the blocked one (dsytrd's panels and rank-2k updates), with the
 * largest difference between their eigenvalues relative to ||A||. Times are CPU milliseconds of this thread,
 * the best of a few runs (the machine is shared; wall time is printed beside the blocked one).
 * Usage: node --import tsx bench/eigen.ts [n ...]
 */
import { Rng } from '../src/core/inputs/rng';
import { symmetricEigenvalues, TRIDIAGONAL_BLOCK } from '../src/core/linalg/symmetricEigen';

/** A random symmetric matrix like a Gram matrix J J^T (positive semi-definite, a spread spectrum). */
function gramLike(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const j = Float64Array.from({ length: n * n }, () => rng.normal());
  const g = new Float64Array(n * n);
  for (let r = 0; r < n; r++) {
    for (let c = r; c < n; c++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += j[r * n + k] * j[c * n + k];
      g[r * n + c] = s;
      g[c * n + r] = s;
    }
  }
  return g;
}

/** The best CPU and wall milliseconds of `runs` calls, and the last result. */
function time(f: () => Float64Array, runs: number): { cpu: number; wall: number; values: Float64Array } {
  let cpu = Infinity;
  let wall = Infinity;
  let values = f(); // warm-up (the JIT)
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    values = f();
    wall = Math.min(wall, performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1000);
  }
  return { cpu, wall, values };
}

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
console.log(`n      column by column   blocked, nb = ${TRIDIAGONAL_BLOCK}          speed-up   max |blocked - columns| / ||A||`);
for (const n of sizes.length > 0 ? sizes : [256, 512, 1024]) {
  const a = gramLike(n, n);
  const runs = n >= 1024 ? 3 : 5;
  const columns = time(() => symmetricEigenvalues(a, n, 1), runs);
  const blocked = time(() => symmetricEigenvalues(a, n), runs);
  const scale = Math.max(...columns.values.map(Math.abs));
  const diff = columns.values.reduce((m, v, i) => Math.max(m, Math.abs(v - blocked.values[i])), 0) / scale;
  const ms = (t: number) => `${t.toFixed(1).padStart(7)} ms`;
  console.log(`${String(n).padEnd(7)}${ms(columns.cpu).padEnd(19)}${`${ms(blocked.cpu)} (${blocked.wall.toFixed(0)} wall)`.padEnd(26)}${(columns.cpu / blocked.cpu).toFixed(2).padStart(6)}x   ${diff.toExponential(1)}`);
}

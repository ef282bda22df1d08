/**
 * The exact path's dense eigen-solve (all singular values of a layer's Jacobian from its Gram
 * matrix) at n = 256, 512 and 1024, side by side: the solver as it was before the blocked
 * reduction (a copy below), the reduction to tridiagonal form column by column (LAPACK's dsytd2:
 * block 1) and the blocked one (dsytrd's panels and rank-2k updates), with the largest difference
 * between the old and new eigenvalues relative to ||A||. Times are CPU milliseconds of this thread,
 * the best of a few runs (the machine is shared; wall time is printed beside the blocked one).
 * Usage: node --import tsx bench/eigen.ts [n ...]
 */
import { Rng } from '../src/core/inputs/rng';
import { symmetricEigenvalues, TRIDIAGONAL_BLOCK } from '../src/core/linalg/symmetricEigen';
import { tridiagonalEigenvalues } from '../src/core/linalg/tridiagonalEigen';

/** The eigenvalues as symmetricEigenvalues computed them before the blocked reduction (commit 04fcebb; its QL stage is today's), the baseline. */
function before(a: Float64Array, n: number): Float64Array {
  const A = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const rowK = k * n;
    let norm2 = 0;
    for (let i = k + 1; i < n; i++) norm2 += A[rowK + i] ** 2;
    const x0 = A[rowK + k + 1];
    const alpha = x0 >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    e[k] = alpha;
    if (norm2 === 0) continue;
    let vn = 0;
    for (let i = k + 1; i < n; i++) {
      v[i] = A[rowK + i] - (i === k + 1 ? alpha : 0);
      vn += v[i] * v[i];
    }
    if (vn === 0) continue;
    vn = Math.sqrt(vn);
    for (let i = k + 1; i < n; i++) v[i] /= vn;
    for (let i = k + 1; i < n; i++) p[i] = 0;
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      const vi = v[i];
      let s = A[row + i] * vi;
      for (let j = i + 1; j < n; j++) {
        const x = A[row + j];
        s += x * v[j];
        p[j] += x * vi;
      }
      p[i] += s;
    }
    let vp = 0;
    for (let i = k + 1; i < n; i++) vp += v[i] * p[i];
    for (let i = k + 1; i < n; i++) p[i] -= vp * v[i];
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      const vi = 2 * v[i];
      const wi = 2 * p[i];
      for (let j = i; j < n; j++) A[row + j] -= vi * p[j] + wi * v[j];
    }
  }
  for (let i = 0; i < n; i++) d[i] = A[i * n + i];
  if (n >= 2) e[n - 2] = A[(n - 2) * n + (n - 1)];
  return tridiagonalEigenvalues(d, e.subarray(0, n - 1)).reverse();
}

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
console.log(`n      before        column by column   blocked, nb = ${TRIDIAGONAL_BLOCK}          speed-up   max |new - before| / ||A||`);
for (const n of sizes.length > 0 ? sizes : [256, 512, 1024]) {
  const a = gramLike(n, n);
  const runs = n >= 1024 ? 3 : 5;
  const old = time(() => before(a, n), runs);
  const columns = time(() => symmetricEigenvalues(a, n, 1), runs);
  const blocked = time(() => symmetricEigenvalues(a, n), runs);
  const scale = Math.max(...old.values.map(Math.abs));
  const diff = old.values.reduce((m, v, i) => Math.max(m, Math.abs(v - blocked.values[i])), 0) / scale;
  const ms = (t: number) => `${t.toFixed(1).padStart(7)} ms`;
  console.log(`${String(n).padEnd(7)}${ms(old.cpu).padEnd(14)}${ms(columns.cpu).padEnd(19)}${`${ms(blocked.cpu)} (${blocked.wall.toFixed(0)} wall)`.padEnd(26)}${(old.cpu / blocked.cpu).toFixed(2).padStart(6)}x   ${diff.toExponential(1)}`);
}

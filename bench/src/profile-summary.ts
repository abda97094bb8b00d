/**
 * node --import tsx bench/src/profile-summary.ts <file.cpuprofile> [top]
 *
 * Where a process spent its CPU: self time per function and per package, from a profile that
 * `BENCH_CPU_PROF_DIR=/tmp/prof pnpm bench --only=…` had the services write (node --cpu-prof).
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const top = Number(topArg ?? 30);
const total = profile.samples.length;
const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
const hits = new Map<number, number>();
// The API and worker run as bundles (bench/dist): their lines are the bundle's, which names each source file in a comment.
const OWN_BUNDLE = /^file:\/\/.*?\/(?:bench\/)?dist\/((?:api|worker)\.js)$/;
for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
for (const node of profile.nodes) {
  const n = hits.get(node.id) ?? 0;
  if (n === 0) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const short = url
    .replace(/^file:\/\/.*?node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
    .replace(/^file:\/\/.*?\/(apps|packages)\//, '$1/')
    .replace(OWN_BUNDLE, 'hookrelay/$1');
  const key = `${functionName || '(anonymous)'}  ${short}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + n);
  const pkg = /^(@[^/]+\/[^/]+|[^/]+)/.exec(short)?.[1] ?? (url === '' ? functionName : 'node');
  const group = url.startsWith('node:') ? 'node internals' : url === '' ? `(${functionName})` : pkg;
  byPackage.set(group, (byPackage.get(group) ?? 0) + n);
}
const show = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, n] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * n) / total).toFixed(1).padStart(5)} %  ${k}`);
};
show('self time by package', byPackage);
show('self time by function', byFunction);

// Inclusive time of the project's own functions: where, below them, the time went.
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const inclusive = new Map<number, number>();
const total_ = (id: number): number => {
  const known = inclusive.get(id);
  if (known !== undefined) return known;
  const node = nodes.get(id)!;
  const sum = (hits.get(id) ?? 0) + (node.children ?? []).reduce((n, c) => n + total_(c), 0);
  inclusive.set(id, sum);
  return sum;
};
const ownCode = new Map<string, number>();
for (const node of profile.nodes) {
  const { functionName, url, lineNumber } = node.callFrame;
  if (!(/\/(apps|packages)\//.test(url) || OWN_BUNDLE.test(url)) || url.includes('node_modules')) continue;
  const key = `${functionName || '(anonymous)'}  ${url.replace(/^.*?\/(apps|packages)\//, '$1/').replace(OWN_BUNDLE, 'hookrelay/$1')}:${lineNumber + 1}`;
  ownCode.set(key, (ownCode.get(key) ?? 0) + total_(node.id));
}
show('inclusive time, project code (a recursive or re-entered function counts more than once)', ownCode);

/**
 * Bundles the long-running processes (API, worker, launcher) into dist/, so production runs
 * plain JavaScript: no TypeScript loader thread or per-module transform in every process (tsx
 * cost an idle worker 34 MiB of RSS, ~50 MiB under a backlog). Tests and the CLI still run the
 * sources through tsx.
 *
 * Only the workspace's own code is bundled. Third-party packages stay external, imported by a
 * path relative to dist/ resolved exactly as Node would from the importing package (pnpm keeps
 * each package's dependencies beside it, not at the root). Each source's import.meta.url is kept
 * as the source file's URL, so files it reads beside itself (migrations, Lua scripts,
 * package.json) are found where they are in the repository.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The processes a deployment runs, by output name (dist/<name>.js). */
export const ENTRIES = { api: 'apps/api/src/main.ts', worker: 'apps/worker/src/main.ts', launcher: 'apps/launcher/src/main.ts' };

const workspaceOnly = (outdir: string): Plugin => ({
  name: 'workspace-only',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.path.startsWith('node:') || args.pluginData?.resolving) return undefined;
      if (args.path.startsWith('@hookrelay/')) return undefined;
      const found = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { resolving: true } });
      if (found.errors.length > 0) return { errors: found.errors };
      if (found.external) return { path: args.path, external: true }; // a Node built-in
      return { path: path.relative(outdir, found.path).split(path.sep).join('/').replace(/^(?!\.)/, './'), external: true };
    });
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const url = JSON.stringify(pathToFileURL(args.path).href);
      return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
});

/** Bundles `entries` (output name → source path from the repository root) into `outdir`. */
export async function bundle(entries: Record<string, string>, outdir = path.join(ROOT, 'dist')): Promise<void> {
  await build({
    absWorkingDir: ROOT,
    entryPoints: entries,
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Third-party packages resolved as Node resolves them: exports with the import condition, else main.
    conditions: [],
    mainFields: ['main'],
    sourcemap: 'linked',
    plugins: [workspaceOnly(outdir)],
    logLevel: 'warning',
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await bundle(ENTRIES);

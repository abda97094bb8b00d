import fc from 'fast-check';

// Property tests explore new inputs on every local run; CI replays one fixed seed, so a red build
// always means a change broke something. A failure prints its seed: `FC_SEED=<seed> pnpm test`.
const seed = process.env.FC_SEED ?? (process.env.CI ? '20261125' : undefined);
if (seed !== undefined) fc.configureGlobal({ seed: Number(seed) });

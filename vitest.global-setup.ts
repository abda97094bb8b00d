import { dropStaleTestDatabases, prepareTemplateDatabase } from '@hookrelay/testing';
import { bundle, ENTRIES } from './scripts/build.ts';

export default async function setup() {
  // The launcher test runs what `pnpm start` runs: the bundles.
  await bundle(ENTRIES);
  await dropStaleTestDatabases();
  const template = await prepareTemplateDatabase();
  // Test files run in child processes, which inherit this.
  process.env.HOOKRELAY_TEST_TEMPLATE = template.name;
  return () => template.drop();
}

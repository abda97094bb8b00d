import { dropStaleTestDatabases, prepareTemplateDatabase } from '@hookrelay/testing';

export default async function setup() {
  await dropStaleTestDatabases();
  const template = await prepareTemplateDatabase();
  // Test files run in child processes, which inherit this.
  process.env.HOOKRELAY_TEST_TEMPLATE = template.name;
  return () => template.drop();
}

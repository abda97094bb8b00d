import { dropStaleTestDatabases, prepareTemplateDatabase } from '@hookrelay/testing';

export default async function setup() {
  await dropStaleTestDatabases();
  await prepareTemplateDatabase();
}

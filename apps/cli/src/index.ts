export { COMMANDS, usage, UsageError, type CliContext } from './commands.ts';

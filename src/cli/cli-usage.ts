// Usage errors of the daemons' command lines: one short line naming the problem and
// "see --help" (not the whole help), exit code 2; --help and --version exit 0.
import type { Command } from 'commander';

/** Applies the short-error behaviour to `program` (call before adding subcommands: they inherit it). */
export function shortUsageErrors(program: Command, binary: string): Command {
  return program
    .configureOutput({ outputError: (text, write) => write(`${binary}: ${text.replace(/^error: /, '').trim()} (see ${binary} --help)\n`) })
    .showSuggestionAfterError()
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') process.exit(0);
      process.exit(2);
    });
}

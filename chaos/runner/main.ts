// `npm run chaos -- <scenario> [options]`: runs one chaos scenario against the real engine and
// exits 0 only when every invariant holds and no process died unasked.
import { parseArgs, usage, UsageError } from './args.ts';
import { formatReport, writeReport } from './report.ts';
import { run } from './run.ts';

let options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`${error.message}\n${usage}\n`);
  process.exit(64);
}

let stop: (() => Promise<void>) | null = null;
process.once('SIGINT', () => {
  process.stderr.write('\nchaos: interrupted; stopping the fleet\n');
  void (stop?.() ?? Promise.resolve()).finally(() => process.exit(130));
});

try {
  const report = await run(options, (stopFleet) => {
    stop = stopFleet;
  });
  const file = writeReport(options.outDir, report);
  process.stdout.write(`${formatReport(report)}\nreport: ${file}\n`);
  process.exit(report.pass ? 0 : 1);
} catch (error) {
  process.stderr.write(`chaos: the run could not complete: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(2);
}

/**
 * dist/cli.js: starts the CLI (dist/cliMain.js), first in a new process with the environment hugePagesEnv gives when
 * it changes anything (glibc reads its tunables only at start-up). The parent only waits: Ctrl-C reaches the CLI
 * from the terminal directly (the CLI cancels a training on the first and aborts on the second, so the parent does
 * not pass it on), SIGTERM and SIGHUP are passed on, and the CLI's exit code or signal becomes the parent's.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { hugePagesEnv } from '../launch/hugePages';

const main = path.join(__dirname, 'cliMain.js');
const env = hugePagesEnv(process.env);
if (!env) {
  require(main);
} else {
  const child = spawn(process.execPath, [...process.execArgv, main, ...process.argv.slice(2)], { stdio: 'inherit', env });
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.on('error', (e) => {
    process.stderr.write(`cxr: could not start ${main}: ${e.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else {
      process.exit(code ?? 1);
    }
  });
}

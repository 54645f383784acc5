/**
 * A child process running one engine call, for tests that must kill or fault a real process (fault injection):
 *   node --import tsx test/helpers/engineChild.ts train|evaluate '<request JSON>'
 * Prints {"result": ...} or {"error": {code, message}} as its last stdout line; exit 0 on success, 1 on a CxrError.
 */
import { Engine } from '../../server/src/engine/engine';
import { toCxrError } from '../../server/src/engine/errors';

async function main(): Promise<void> {
  const [op, json] = process.argv.slice(2);
  const req = JSON.parse(json);
  const engine = new Engine();
  const result = op === 'train' ? await engine.train(req) : op === 'evaluate' ? await engine.evaluate(req) : null;
  if (result === null) throw new Error(`unknown op ${op}`);
  process.stdout.write(JSON.stringify({ result }) + '\n');
}

main().catch((e: unknown) => {
  const err = toCxrError(e);
  process.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message } }) + '\n');
  process.exitCode = 1;
});

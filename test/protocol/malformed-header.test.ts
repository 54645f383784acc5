import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { it } from 'node:test';
import { repoRoot } from '../../server/src/engine/locations';

/**
 * A corrupted JSON-RPC frame header leaves no way to find the next message: the backend must not stay alive but
 * deaf. It exits (status 1, a line on stderr) so the client restarts it; a body that is not JSON only gets logged.
 */
function startRaw() {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot(), 'server', 'src', 'lsp', 'main.ts'), '--stdio'], {
    cwd: repoRoot(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const send = (raw: string) => proc.stdin.write(raw);
  const frame = (msg: object) => {
    const body = JSON.stringify(msg);
    return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  return { proc, exited, send, frame, out: () => stdout, err: () => stderr };
}

it('exits cleanly on Content-Length: abc, so the client can restart it', async () => {
  const b = startRaw();
  // A body that is not JSON keeps the framing: the backend goes on and still answers.
  b.send('Content-Length: 5\r\n\r\n{oops');
  b.send(b.frame({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } }));
  const deadline = Date.now() + 60_000;
  while (!b.out().includes('"id":1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(b.out().includes('cxr-studio-backend'), `no initialize answer after a non-JSON body: ${b.err().slice(-500)}`);
  b.send('Content-Length: abc\r\n\r\n{"jsonrpc":"2.0","id":2,"method":"cxr/backendStatus"}');
  const code = await Promise.race([b.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 20_000))]);
  if (code === 'still running') b.proc.kill('SIGKILL');
  assert.equal(code, 1, 'the backend stayed alive but deaf after a malformed header');
  assert.match(b.err(), /malformed JSON-RPC header/);
});

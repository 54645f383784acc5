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

const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } };

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return check();
}

it('a body that is not JSON keeps the framing: the backend goes on and answers the next message', async () => {
  const b = startRaw();
  try {
    b.send('Content-Length: 5\r\n\r\n{oops');
    b.send('Content-Length: 7\r\n\r\ngarbage');
    b.send(b.frame(initialize));
    assert.ok(await waitFor(() => b.out().includes('cxr-studio-backend'), 60_000), `no initialize answer after non-JSON bodies: ${b.err().slice(-500)}`);
    assert.equal(b.proc.exitCode, null, 'the backend exited on a body that is not JSON');
  } finally {
    b.proc.kill('SIGKILL');
  }
});

for (const [what, header] of [
  ['Content-Length: abc', 'Content-Length: abc'],
  ['no Content-Length header', 'Content-Lenght: 40'],
] as const) {
  it(`exits (status 1, one line on stderr) on ${what}, so the client can restart it`, async () => {
    const b = startRaw();
    b.send(b.frame(initialize));
    assert.ok(await waitFor(() => b.out().includes('cxr-studio-backend'), 60_000), b.err().slice(-500));
    b.send(`${header}\r\n\r\n{"jsonrpc":"2.0","id":2,"method":"cxr/backendStatus"}`);
    const code = await Promise.race([b.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 20_000))]);
    if (code === 'still running') b.proc.kill('SIGKILL');
    assert.equal(code, 1, 'the backend stayed alive but deaf after a malformed header');
    assert.match(b.err(), /^cxr backend: malformed JSON-RPC header \(.*\); exiting so the client restarts the backend\.$/m);
  });
}

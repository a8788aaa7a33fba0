/**
 * The CLI run as a process whose reader has already closed the pipe
 * (`keyrot --help | head -0`): it must end quietly, with no EPIPE stack trace.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(__dirname, '..', 'bin', 'keyrot.js');

function runWithClosedStdout(script: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, '--help'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    // The reader goes away before the CLI has written anything.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('a closed output pipe', () => {
  it('ends keyrot quietly', async () => {
    const { code, stderr } = await runWithClosedStdout(BIN);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 30_000);
});

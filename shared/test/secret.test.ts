import { createHash } from 'node:crypto';
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { format, inspect } from 'node:util';
import { fingerprintOf, SecretValue } from '../src';

const VALUE = 'k3yR0tSecretValue-0123456789abcdefXYZ';

/** What a Console prints, collected instead of written to a terminal. */
function consoleOutput(print: (console: Console) => void): string {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  print(new Console({ stdout: sink, stderr: sink }));
  return chunks.join('');
}

describe('SecretValue', () => {
  const secret = new SecretValue(VALUE);

  it('gives the value only through reveal()', () => {
    expect(secret.reveal()).toBe(VALUE);
  });

  it('prints as [REDACTED] through String, concatenation and template literals', () => {
    expect(String(secret)).toBe('[REDACTED]');
    expect(`header: ${secret}`).toBe('header: [REDACTED]');
    expect('header: ' + secret).toBe('header: [REDACTED]');
  });

  it('serialises as [REDACTED] with JSON.stringify, alone or nested', () => {
    expect(JSON.stringify(secret)).toBe('"[REDACTED]"');
    const nested = JSON.stringify({ headers: [{ name: 'x-api-key', value: secret }] });
    expect(nested).not.toContain(VALUE);
    expect(nested).toContain('[REDACTED]');
  });

  it('never shows the value through util.inspect, whatever the options', () => {
    for (const text of [
      inspect(secret),
      inspect({ deep: { deeper: { secret } } }, { depth: Infinity }),
      inspect(secret, { showHidden: true, getters: true }),
      inspect(secret, { customInspect: false, showHidden: true }),
    ]) {
      expect(text).not.toContain(VALUE);
    }
    expect(inspect(secret)).toContain(secret.fingerprint);
  });

  it('never shows the value through util.format placeholders', () => {
    const text = format('%s %o %O %j %d', secret, secret, { secret }, { secret }, secret);

    expect(text).not.toContain(VALUE);
  });

  it('never shows the value through console formatting', () => {
    const printed = consoleOutput((console) => {
      console.log(secret);
      console.log('%s', secret);
      console.info({ request: { headers: { 'x-api-key': secret } } });
      console.error('failed with', secret);
      console.dir(secret, { depth: null, showHidden: true });
      console.table([{ key: secret }]);
    });

    expect(printed.length).toBeGreaterThan(0);
    expect(printed).not.toContain(VALUE);
  });

  it('exposes no enumerable copy of the value', () => {
    expect(JSON.stringify({ ...secret })).not.toContain(VALUE);
    expect(JSON.stringify(Object.entries(secret))).not.toContain(VALUE);
  });

  it('fingerprints as the first 12 hex digits of the SHA-256 of the value', () => {
    const expected = createHash('sha256').update(VALUE, 'utf8').digest('hex').slice(0, 12);

    expect(secret.fingerprint).toBe(expected);
    expect(fingerprintOf(VALUE)).toBe(expected);
    expect(secret.fingerprint).toMatch(/^[0-9a-f]{12}$/);
  });

  it('fingerprints different values differently', () => {
    expect(new SecretValue(`${VALUE}!`).fingerprint).not.toBe(secret.fingerprint);
  });

  it('compares by value', () => {
    expect(secret.equals(new SecretValue(VALUE))).toBe(true);
    expect(secret.equals(new SecretValue(`${VALUE}-other`))).toBe(false);
  });
});

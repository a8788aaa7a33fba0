import { createLogger, redactingReplacer, SecretValue } from '../src';
import { captureLogger, type CapturedLogger } from '../../test/support/fakes';

const VALUE = 'LOGleakCANARYvalue-0123456789abcdefghij';

describe('createLogger', () => {
  let captured: CapturedLogger;

  beforeEach(() => {
    captured = captureLogger('key-issuer');
  });

  afterEach(() => {
    captured.stop();
    jest.restoreAllMocks();
  });

  it('writes one JSON line per entry with the service, component and attributes', () => {
    captured.log.info('rotation started', { rotationId: 'rot_1' });

    expect(captured.entries()).toEqual([
      expect.objectContaining({
        level: 'INFO',
        message: 'rotation started',
        service: 'key-issuer',
        component: 'keyrot',
        rotationId: 'rot_1',
      }),
    ]);
  });

  it('prints a SecretValue as [REDACTED], keeping its fingerprint usable', () => {
    const secret = new SecretValue(VALUE);

    captured.log.info('new key', { newKey: secret, fingerprint: secret.fingerprint });

    expect(captured.text()).not.toContain(VALUE);
    expect(captured.entries()[0]).toMatchObject({
      newKey: '[REDACTED]',
      fingerprint: secret.fingerprint,
    });
  });

  it('redacts strings under value, apiKey and x-api-key, whatever their case', () => {
    captured.log.warn('careless call', {
      value: VALUE,
      apiKey: VALUE,
      APIKEY: VALUE,
      api_key: VALUE,
      'x-api-key': VALUE,
      'X-Api-Key': VALUE,
      headerValue: VALUE,
    });

    expect(captured.text()).not.toContain(VALUE);
    expect(captured.entries()[0]).toMatchObject({
      apiKey: '[REDACTED]',
      'X-Api-Key': '[REDACTED]',
    });
  });

  it('redacts secret attributes nested in objects and arrays of objects', () => {
    captured.log.error('request failed', {
      request: { headers: { 'x-api-key': VALUE, accept: 'application/json' } },
      origins: [{ id: 'api', customHeaders: [{ name: 'x-api-key', value: VALUE }] }],
      keys: [new SecretValue(VALUE)],
    });

    expect(captured.text()).not.toContain(VALUE);
    expect(captured.text()).toContain('application/json');
  });

  it('redacts a value nested in an array under a secret attribute name', () => {
    // Node and fetch header maps may hold several values for one header.
    captured.log.info('outgoing request', { headers: { 'x-api-key': [VALUE] } });

    expect(captured.text()).not.toContain(VALUE);
  });

  it('redacts secrets in persistent keys and in the message object form', () => {
    captured.log.appendKeys({ apiKey: VALUE });
    captured.log.info({ message: 'with keys', value: VALUE });

    expect(captured.entries()).toHaveLength(1);
    expect(captured.text()).not.toContain(VALUE);
  });

  it('keeps a SecretValue out of an interpolated message', () => {
    captured.log.info(`probe sent with ${new SecretValue(VALUE)}`);

    expect(captured.text()).not.toContain(VALUE);
    expect(captured.entries()[0]?.message).toBe('probe sent with [REDACTED]');
  });

  it('leaves ordinary attributes as they are', () => {
    captured.log.info('listed', { keyId: 'abc123', fingerprint: '0123456789ab', count: 3 });

    expect(captured.entries()[0]).toMatchObject({
      keyId: 'abc123',
      fingerprint: '0123456789ab',
      count: 3,
    });
  });
});

describe('createLogger in dev mode (POWERTOOLS_DEV)', () => {
  const saved = process.env.POWERTOOLS_DEV;

  afterEach(() => {
    if (saved === undefined) delete process.env.POWERTOOLS_DEV;
    else process.env.POWERTOOLS_DEV = saved;
    jest.restoreAllMocks();
  });

  it('redacts the pretty-printed output written through console', () => {
    process.env.POWERTOOLS_DEV = 'true';
    const printed: string[] = [];
    const collect = (...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    };
    for (const method of ['info', 'warn', 'error', 'log'] as const) {
      jest.spyOn(console, method).mockImplementation(collect);
    }
    const log = createLogger('edge-updater');

    log.info('header set', { headers: { 'x-api-key': VALUE }, key: new SecretValue(VALUE) });
    log.error('write failed', { apiKey: VALUE });

    expect(printed).toHaveLength(2);
    expect(printed.join('\n')).toContain('header set');
    expect(printed.join('\n')).not.toContain(VALUE);
  });
});

describe('redactingReplacer', () => {
  it('redacts by attribute name and SecretValue, and passes everything else through', () => {
    expect(redactingReplacer('x-api-key', VALUE)).toBe('[REDACTED]');
    expect(redactingReplacer('anything', new SecretValue(VALUE))).toBe('[REDACTED]');
    expect(redactingReplacer('keyId', 'abc123')).toBe('abc123');
    expect(redactingReplacer('value', 42)).toBe(42);
  });
});

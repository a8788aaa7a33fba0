import {
  InvalidInputError,
  isFanOut,
  parseDetail,
  parseEvent,
  UntrustedEventError,
  type DetailType,
  type Trust,
} from '../src';
import {
  API_ACCOUNT,
  EDGE_ACCOUNT,
  EDGE_KMS_KEY_ARN,
  envelope,
  omit,
  OTHER_ACCOUNT,
  rotationFailed,
  SEED_INPUT,
  TARGET,
} from '../../test/support/fixtures';

const issuerTrust: Trust<'KeyRotationRequested'> = {
  accounts: [API_ACCOUNT],
  detailTypes: ['KeyRotationRequested'],
};

/** The error `fn` throws (fails the test if it throws nothing). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function invalidField(fn: () => unknown): string | undefined {
  const error = thrownBy(fn);
  expect(error).toBeInstanceOf(InvalidInputError);
  return (error as InvalidInputError).field;
}

const structuredRequest = {
  version: 1,
  target: {
    name: 'kloudpepper-prod',
    apiKeyName: 'kloudpepper-api-key',
    usagePlanId: '0aj0l3',
    distributionId: 'E1MTSB8DGIOBI2',
    originId: 'api-gateway-origin',
  },
};

const validKeyCreated = {
  version: 1,
  rotationId: 'rot_20261125T090000Z_abc123',
  target: TARGET,
  newKey: { id: 'abc123def4', fingerprint: '0123456789ab' },
  supersededKeys: [{ id: 'old0000001', fingerprint: 'ba9876543210' }],
  encryptedValue: 'c2VhbGVk',
  kmsKeyArn: EDGE_KMS_KEY_ARN,
  issuedAt: '2026-11-25T09:00:00.000Z',
};

describe('parseDetail', () => {
  describe('RotationFailed', () => {
    const v2 = rotationFailed({ newKeyMayBeAtEdge: true });

    it('reads version 1 (edgeUpdated) as version 2 (newKeyMayBeAtEdge)', () => {
      const { newKeyMayBeAtEdge, ...rest } = v2;
      const v1 = { ...rest, version: 1, edgeUpdated: newKeyMayBeAtEdge };
      expect(parseDetail('RotationFailed', v1)).toEqual(v2);
      expect(parseDetail('RotationFailed', v2)).toEqual(v2);
    });

    it('refuses a version 2 event that uses the old field name', () => {
      const { newKeyMayBeAtEdge, ...rest } = v2;
      expect(() =>
        parseDetail('RotationFailed', { ...rest, edgeUpdated: newKeyMayBeAtEdge }),
      ).toThrow(InvalidInputError);
    });
  });

  describe('KeyRotationRequested', () => {
    it("accepts the seed's flat scheduler input as is, naming the target after the key", () => {
      const request = parseDetail('KeyRotationRequested', { ...SEED_INPUT });

      expect(request).toEqual({
        target: {
          name: 'kloudpepper-api-key',
          apiKeyName: 'kloudpepper-api-key',
          usagePlanId: '0aj0l3',
          distributionId: 'E1MTSB8DGIOBI2',
          originId: 'api-gateway-origin',
          headerName: 'x-api-key',
        },
        reason: 'scheduled',
      });
    });

    it('takes an explicit target name and header name from the flat input', () => {
      const request = parseDetail('KeyRotationRequested', {
        ...SEED_INPUT,
        TARGET_NAME: 'prod',
        HEADER_NAME: 'x-origin-key',
      });

      expect(request).toMatchObject({ target: { name: 'prod', headerName: 'x-origin-key' } });
    });

    it('accepts a targets list of flat and structured entries, as one fan-out request', () => {
      const request = parseDetail('KeyRotationRequested', {
        targets: [SEED_INPUT, { ...TARGET, name: 'second' }],
      });

      expect(isFanOut(request)).toBe(true);
      expect(request).toMatchObject({
        reason: 'scheduled',
        targets: [
          { name: SEED_INPUT.API_KEY_NAME, headerName: 'x-api-key' },
          { name: 'second', headerName: 'x-api-key' },
        ],
      });
    });

    it('refuses a targets list naming one target twice, naming the field', () => {
      expect(
        invalidField(() =>
          parseDetail('KeyRotationRequested', { targets: [SEED_INPUT, SEED_INPUT] }),
        ),
      ).toBe('detail.targets');
    });

    it('refuses an empty targets list', () => {
      expect(invalidField(() => parseDetail('KeyRotationRequested', { targets: [] }))).toBe(
        'detail.targets',
      );
    });

    it('accepts the structured form, defaulting the header and the reason', () => {
      const request = parseDetail('KeyRotationRequested', {
        ...structuredRequest,
        rotationId: 'rot_manual_0001',
      });

      expect(request).toMatchObject({
        target: { ...structuredRequest.target, headerName: 'x-api-key' },
        rotationId: 'rot_manual_0001',
        reason: 'manual',
      });
    });

    it('names the missing field of a flat input', () => {
      const withoutPlan = omit(SEED_INPUT, 'USAGE_PLAN_ID');

      expect(invalidField(() => parseDetail('KeyRotationRequested', withoutPlan))).toBe(
        'detail.USAGE_PLAN_ID',
      );
    });

    it('names the bad field of a flat input', () => {
      const detail = { ...SEED_INPUT, USAGE_PLAN_ID: '0aj 0l3; drop' };

      expect(invalidField(() => parseDetail('KeyRotationRequested', detail))).toBe(
        'detail.USAGE_PLAN_ID',
      );
    });

    it('names a nested field of the structured form', () => {
      const detail = {
        ...structuredRequest,
        target: { ...structuredRequest.target, originId: '' },
      };

      expect(invalidField(() => parseDetail('KeyRotationRequested', detail))).toBe(
        'detail.target.originId',
      );
    });

    it('names the version when it is not the current schema version', () => {
      const detail = { ...structuredRequest, version: 2 };

      expect(invalidField(() => parseDetail('KeyRotationRequested', detail))).toBe(
        'detail.version',
      );
    });

    it('rejects a detail that is not an object', () => {
      expect(() => parseDetail('KeyRotationRequested', 'rotate please')).toThrow(InvalidInputError);
    });
  });

  describe('KeyCreated', () => {
    it('accepts a well-formed detail', () => {
      expect(parseDetail('KeyCreated', validKeyCreated)).toEqual(validKeyCreated);
    });

    it('names the bad fingerprint of the new key', () => {
      const detail = { ...validKeyCreated, newKey: { id: 'abc123def4', fingerprint: 'XYZ' } };

      expect(invalidField(() => parseDetail('KeyCreated', detail))).toBe(
        'detail.newKey.fingerprint',
      );
    });

    it('refuses a plain key value riding along, without echoing it', () => {
      const plain = 'PLAINkeyVALUEthatMustNeverTravel0001';
      const error = thrownBy(() => parseDetail('KeyCreated', { ...validKeyCreated, value: plain }));

      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as Error).message).not.toContain(plain);
    });
  });
});

describe('parseEvent', () => {
  it('returns a trusted event for the expected account, source and detail-type', () => {
    const raw = envelope('KeyRotationRequested', { ...SEED_INPUT }, { id: 'evt-1' });

    const event = parseEvent(raw, issuerTrust);

    expect(event).toMatchObject({
      id: 'evt-1',
      account: API_ACCOUNT,
      detailType: 'KeyRotationRequested',
      time: '2026-11-25T09:00:00Z',
      detail: { reason: 'scheduled', target: { name: 'kloudpepper-api-key' } },
    });
  });

  it('accepts any of several trusted accounts', () => {
    const trust: Trust<DetailType> = {
      accounts: [API_ACCOUNT, EDGE_ACCOUNT],
      detailTypes: ['KeyCreated'],
    };
    const raw = envelope('KeyCreated', validKeyCreated, { account: EDGE_ACCOUNT });

    expect(parseEvent(raw, trust).account).toBe(EDGE_ACCOUNT);
  });

  it('rejects an event from another account, naming the account field', () => {
    const raw = envelope('KeyRotationRequested', { ...SEED_INPUT }, { account: OTHER_ACCOUNT });

    const error = thrownBy(() => parseEvent(raw, issuerTrust));

    expect(error).toBeInstanceOf(UntrustedEventError);
    expect((error as UntrustedEventError).field).toBe('account');
    expect((error as UntrustedEventError).retryable).toBe(false);
  });

  it('rejects an event from another source, naming the source field', () => {
    const raw = envelope('KeyRotationRequested', { ...SEED_INPUT }, { source: 'aws.events' });

    const error = thrownBy(() => parseEvent(raw, issuerTrust));

    expect(error).toBeInstanceOf(UntrustedEventError);
    expect((error as UntrustedEventError).field).toBe('source');
  });

  it('rejects a detail-type the handler does not take', () => {
    const raw = envelope('KeyCreated', validKeyCreated);

    const error = thrownBy(() => parseEvent(raw, issuerTrust));

    expect(error).toBeInstanceOf(UntrustedEventError);
    expect((error as UntrustedEventError).field).toBe('detail-type');
  });

  it('checks where the event comes from before reading its detail', () => {
    const raw = envelope('KeyRotationRequested', { garbage: true }, { account: OTHER_ACCOUNT });

    expect(thrownBy(() => parseEvent(raw, issuerTrust))).toBeInstanceOf(UntrustedEventError);
  });

  it('names the detail field of a trusted but malformed event', () => {
    const raw = envelope('KeyRotationRequested', omit(SEED_INPUT, 'ORIGIN_ID'));

    expect(invalidField(() => parseEvent(raw, issuerTrust))).toBe('detail.ORIGIN_ID');
  });

  it('rejects something that is not an EventBridge event, naming the envelope field', () => {
    const withoutId = omit(envelope('KeyRotationRequested', { ...SEED_INPUT }), 'id');

    expect(invalidField(() => parseEvent(withoutId, issuerTrust))).toBe('event.id');
    expect(() => parseEvent(null, issuerTrust)).toThrow(InvalidInputError);
  });
});

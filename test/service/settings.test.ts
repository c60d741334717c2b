import { createKeyring, isLoopback, parseOperatorKeys, parseSecretList } from '../../src/service/auth';
import { serviceSecretsFrom } from '../../src/service/main';

describe('service settings', () => {
  it('parses operator keys `name:scope[+scope]:key` and checks scopes (operate implies read)', () => {
    const keys = parseOperatorKeys('ops:read+operate:k_0123456789abcdef, dash:read:k_fedcba9876543210');
    expect(keys).toEqual([
      { name: 'ops', scopes: ['read', 'operate'], key: 'k_0123456789abcdef' },
      { name: 'dash', scopes: ['read'], key: 'k_fedcba9876543210' },
    ]);
    const ring = createKeyring([{ name: 'bot', key: 'k_1111111111111111', scopes: ['operate'] }, ...keys]);
    expect(ring.authenticate('Bearer k_fedcba9876543210')).toEqual({ name: 'dash', scopes: ['read'], via: 'bearer' });
    expect(ring.authenticate('Bearer k_fedcba987654321')).toBeUndefined();
    expect(ring.authenticate('Basic k_fedcba9876543210')).toBeUndefined();
    expect(ring.allows({ name: 'bot', scopes: ['operate'], via: 'bearer' }, 'read')).toBe(true);
    expect(ring.allows({ name: 'bot', scopes: ['operate'], via: 'bearer' }, 'operate')).toBe(true);
    expect(ring.allows({ name: 'dash', scopes: ['read'], via: 'bearer' }, 'operate')).toBe(false);
  });

  it('accepts the key as the Basic password (any user name), granting read only', () => {
    const ring = createKeyring(parseOperatorKeys('ops:read+operate:k_0123456789abcdef'));
    const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;
    const ops = ring.authenticate(basic('anyone:k_0123456789abcdef'));
    expect(ops).toEqual({ name: 'ops', scopes: ['read', 'operate'], via: 'basic' });
    expect(ring.allows(ops!, 'read')).toBe(true);
    // A browser replays Basic credentials on cross-site requests: never enough to operate.
    expect(ring.allows(ops!, 'operate')).toBe(false);
    expect(ring.authenticate(basic('k_0123456789abcdef'))).toBeUndefined();
    expect(ring.authenticate(basic('ops:k_0123456789abcdeX'))).toBeUndefined();
  });

  it('tells loopback addresses from the rest', () => {
    expect(['127.0.0.1', '127.8.0.2', '::1', '::ffff:127.0.0.1'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', '::2', 'localhost', undefined].map(isLoopback)).toEqual([false, false, false, false, false, false]);
  });

  it('lists every malformed operator key entry without echoing the keys', () => {
    expect(() => parseOperatorKeys('ops:admin:k_0123456789abcdef,short:read:abc')).toThrow(
      'invalid operator API keys:\n  - entry 1 (ops): scopes must be read, operate and/or approve\n  - entry 2: expected name:scope[+scope]:key with a key of 16+ characters',
    );
  });

  it('splits secret lists for rotation and refuses to start with a source lacking secrets', () => {
    expect(parseSecretList(' a , b,,c ')).toEqual(['a', 'b', 'c']);
    expect(() =>
      serviceSecretsFrom({
        Q2C_WEBHOOK_SECRET_SALESFORCE: 'old,new',
        Q2C_WEBHOOK_SECRET_KANTATA: undefined,
        Q2C_DOCUSIGN_CONNECT_KEYS: 'k1',
        STRIPE_WEBHOOK_SECRET: undefined,
        Q2C_OPERATOR_API_KEYS: 'ops:operate:k_0123456789abcdef',
      }),
    ).toThrow('service: unset Q2C_WEBHOOK_SECRET_KANTATA, STRIPE_WEBHOOK_SECRET (a source without a secret rejects every delivery)');
  });
});

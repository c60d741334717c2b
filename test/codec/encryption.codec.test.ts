import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec, parseEncryptionKeys } from '../../src/codec/encryption.codec';

const oldKey = { id: 'k1', key: Buffer.alloc(32, 1) };
const newKey = { id: 'k2', key: Buffer.alloc(32, 2) };

describe('EncryptionCodec', () => {
  const customer = { name: 'Globex Corporation', email: 'ap@globex.example' };

  it('hides the payload and round-trips it', async () => {
    const codec = new EncryptionCodec([newKey]);
    const plain = defaultPayloadConverter.toPayload(customer);
    const [encoded] = await codec.encode([plain]);
    expect(Buffer.from(encoded!.data!).toString('latin1')).not.toContain('Globex');
    expect(Buffer.from(encoded!.metadata!.encoding!).toString()).toBe('binary/encrypted');
    const [decoded] = await codec.decode([encoded!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(customer);
  });

  it('decrypts with an older key during rotation and encrypts with the newest', async () => {
    const [byOld] = await new EncryptionCodec([oldKey]).encode([defaultPayloadConverter.toPayload(customer)]);
    const rotated = new EncryptionCodec([newKey, oldKey]);
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([byOld!]))[0]!)).toEqual(customer);
    const [byNew] = await rotated.encode([defaultPayloadConverter.toPayload(customer)]);
    expect(Buffer.from(byNew!.metadata!['encryption-key-id']!).toString()).toBe('k2');
  });

  it('refuses a payload whose key it does not hold, and a tampered one', async () => {
    const [byOld] = await new EncryptionCodec([oldKey]).encode([defaultPayloadConverter.toPayload(customer)]);
    await expect(new EncryptionCodec([newKey]).decode([byOld!])).rejects.toThrow("unknown key 'k1'");
    const tampered = { ...byOld!, data: Buffer.from(byOld!.data!).map((b, i) => (i === 20 ? b ^ 1 : b)) };
    await expect(new EncryptionCodec([oldKey]).decode([tampered])).rejects.toThrow();
  });

  it('parses keys from configuration and names a bad entry', () => {
    const keys = parseEncryptionKeys(`k2:${Buffer.alloc(32, 2).toString('base64')}, k1:${Buffer.alloc(32, 1).toString('base64')}`);
    expect(keys.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(() => parseEncryptionKeys('nokey')).toThrow('entry 1: expected id:base64key');
    expect(() => new EncryptionCodec([{ id: 'short', key: Buffer.alloc(16) }])).toThrow('must be 32 bytes, got 16');
  });
});

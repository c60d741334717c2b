import { constants, createSign } from 'node:crypto';
import { ClientCredentialsAuth, type SecretSource } from '../http';

export interface NetSuiteM2MOptions {
  /** https://<accountId>.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token */
  tokenUrl: string;
  /** The integration record's client id (consumer key). */
  clientId: string;
  /** Certificate id from Setup > Integration > OAuth 2.0 Client Credentials (M2M) Setup; the JWT `kid`. */
  certificateId: SecretSource;
  /** PEM private key of that certificate (RSA, signed PS256). */
  privateKey: SecretSource;
  scope?: string;
  refreshSkewMs?: number;
  now?: () => number;
}

const b64url = (input: Buffer | string): string => Buffer.from(input).toString('base64url');

/** A PS256 client assertion with the certificate id as `kid`, as NetSuite's M2M flow requires. */
export function signNetSuiteAssertion(claims: Record<string, unknown>, kid: string, privateKeyPem: string): string {
  const header = b64url(JSON.stringify({ alg: 'PS256', typ: 'JWT', kid }));
  const payload = b64url(JSON.stringify(claims));
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${payload}`);
  const sig = signer.sign({ key: privateKeyPem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  return `${header}.${payload}.${b64url(sig)}`;
}

/**
 * NetSuite OAuth 2.0 client credentials (machine-to-machine): a
 * `client_credentials` grant whose client authenticates with a signed JWT
 * (`client_assertion_type=...:jwt-bearer`), unlike the Salesforce/DocuSign
 * JWT-bearer grant the shared JwtBearerAuth implements. Token caching,
 * refresh before expiry and reload-on-401 come from the shared base class;
 * only the grant body differs. NetSuite accepts two active certificates per
 * integration, so a rotation swaps certificate id and key together.
 * https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/article_162730264820.html
 */
export class NetSuiteM2MAuth extends ClientCredentialsAuth {
  private readonly m2m: NetSuiteM2MOptions;
  private readonly clock: () => number;

  constructor(options: NetSuiteM2MOptions) {
    super({
      tokenUrl: options.tokenUrl,
      clientId: options.clientId,
      clientSecret: options.privateKey,
      ...(options.refreshSkewMs !== undefined ? { refreshSkewMs: options.refreshSkewMs } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    this.m2m = options;
    this.clock = options.now ?? Date.now;
  }

  protected override async grantBody(): Promise<Record<string, string>> {
    const iat = Math.floor(this.clock() / 1000);
    const assertion = signNetSuiteAssertion(
      { iss: this.m2m.clientId, scope: (this.m2m.scope ?? 'restlets,rest_webservices').split(','), aud: this.m2m.tokenUrl, iat, exp: iat + 3600 },
      await this.m2m.certificateId.get(),
      await this.m2m.privateKey.get(),
    );
    return {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    };
  }

  protected override async reloadSecrets(): Promise<void> {
    await Promise.all([this.m2m.certificateId.reload(), this.m2m.privateKey.reload()]);
  }
}

import { createSign } from 'node:crypto';
import { request } from 'undici';
import { z } from 'zod';
import { ConnectorError } from '../errors';
import { classifyStatus, classifyTransportError } from './classify';
import type { SecretSource } from './secrets';

/**
 * Adds credentials to a request. After a 401 the client calls
 * `onUnauthorized()` once: providers drop cached tokens and reload their
 * secrets (a rotated credential), and say whether one more try makes sense.
 */
export interface AuthProvider {
  headers(): Promise<Record<string, string>>;
  onUnauthorized(): Promise<boolean>;
}

/** No credentials (public endpoints, tests). */
export const noAuth: AuthProvider = { headers: async () => ({}), onUnauthorized: async () => false };

/** `Authorization: Bearer <token>` with a long-lived token (Kantata personal/OAuth token). */
export function bearerTokenAuth(token: SecretSource): AuthProvider {
  let seen: string | undefined;
  return {
    async headers() {
      seen = await token.get();
      return { authorization: `Bearer ${seen}` };
    },
    async onUnauthorized() {
      await token.reload();
      return (await token.get()) !== seen;
    },
  };
}

/** An API key in a header (`prefix` e.g. 'Bearer ' or '' for a bare key). */
export function apiKeyAuth(header: string, key: SecretSource, prefix = ''): AuthProvider {
  let seen: string | undefined;
  return {
    async headers() {
      seen = await key.get();
      return { [header.toLowerCase()]: `${prefix}${seen}` };
    },
    async onUnauthorized() {
      await key.reload();
      return (await key.get()) !== seen;
    },
  };
}

/** HTTP Basic (Avalara: account id + license key). */
export function basicAuth(username: SecretSource, password: SecretSource): AuthProvider {
  let seen: string | undefined;
  return {
    async headers() {
      seen = `${await username.get()}:${await password.get()}`;
      return { authorization: `Basic ${Buffer.from(seen).toString('base64')}` };
    },
    async onUnauthorized() {
      await Promise.all([username.reload(), password.reload()]);
      return `${await username.get()}:${await password.get()}` !== seen;
    },
  };
}

const TokenResponse = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().positive().optional(),
  instance_url: z.string().optional(),
  scope: z.string().optional(),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

export interface CachedToken {
  accessToken: string;
  expiresAt: number;
  response: TokenResponse;
}

interface OAuthCommon {
  tokenUrl: string;
  scope?: string;
  /** Refresh this long before expiry so no request goes out with a token about to lapse (default 60 s). */
  refreshSkewMs?: number;
  /** Token lifetime when the response carries no expires_in (Salesforce omits it; default 30 min). */
  defaultTtlMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Token cache shared by the OAuth2 flows: one token request in flight at a
 * time (concurrent callers await the same promise), refreshed `refreshSkewMs`
 * before it expires, dropped on 401.
 */
abstract class OAuthTokenAuth implements AuthProvider {
  private cached: CachedToken | undefined;
  private inflight: Promise<CachedToken> | undefined;
  /** How many tokens this provider has fetched (observable for tests and metrics). */
  tokenRequests = 0;
  protected readonly now: () => number;

  constructor(protected readonly common: OAuthCommon) {
    this.now = common.now ?? Date.now;
  }

  protected abstract grantBody(): Promise<Record<string, string>>;
  protected abstract reloadSecrets(): Promise<void>;

  async headers(): Promise<Record<string, string>> {
    const token = await this.token();
    return { authorization: `Bearer ${token.accessToken}` };
  }

  async onUnauthorized(): Promise<boolean> {
    this.cached = undefined;
    await this.reloadSecrets();
    return true;
  }

  /** The current token, fetching a new one when none is cached or it is within the refresh skew of expiry. */
  async token(): Promise<CachedToken> {
    const skew = this.common.refreshSkewMs ?? 60_000;
    if (this.cached && this.cached.expiresAt - skew > this.now()) return this.cached;
    this.inflight ??= this.fetchWithRotation().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetchWithRotation(): Promise<CachedToken> {
    try {
      return await this.fetchToken();
    } catch (err) {
      // invalid_client / invalid_grant after a rotation: re-read the secret once and try again.
      if (err instanceof ConnectorError && err.code === 'HTTP.AUTH') {
        await this.reloadSecrets();
        return this.fetchToken();
      }
      throw err;
    }
  }

  private async fetchToken(): Promise<CachedToken> {
    this.tokenRequests += 1;
    const body = new URLSearchParams(await this.grantBody()).toString();
    const url = new URL(this.common.tokenUrl);
    let res;
    try {
      res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        headersTimeout: this.common.timeoutMs ?? 15_000,
        bodyTimeout: this.common.timeoutMs ?? 15_000,
      });
    } catch (err) {
      throw new ConnectorError(classifyTransportError(err, false), `token request to ${url.host} failed`, { cause: err, meta: { path: url.pathname } });
    }
    const text = await res.body.text();
    if (res.statusCode >= 400) {
      // RFC 6749 §5.2: 400 with invalid_client/invalid_grant means our credentials are wrong.
      let oauthError: string | undefined;
      try {
        const parsed = JSON.parse(text) as { error?: unknown };
        oauthError = typeof parsed.error === 'string' ? parsed.error : undefined;
      } catch {
        oauthError = undefined;
      }
      const code =
        res.statusCode === 401 || (res.statusCode === 400 && (oauthError === 'invalid_client' || oauthError === 'invalid_grant' || oauthError === 'unauthorized_client'))
          ? 'HTTP.AUTH'
          : classifyStatus(res.statusCode);
      throw new ConnectorError(code, `token request rejected: ${res.statusCode}${oauthError ? ` ${oauthError}` : ''}`, {
        meta: { path: url.pathname, status: res.statusCode, ...(oauthError ? { vendorCode: oauthError } : {}) },
      });
    }
    let parsed: TokenResponse;
    try {
      parsed = TokenResponse.parse(JSON.parse(text));
    } catch (err) {
      throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', 'token response is not an OAuth2 token', { cause: err, meta: { path: url.pathname } });
    }
    const ttl = parsed.expires_in !== undefined ? parsed.expires_in * 1000 : (this.common.defaultTtlMs ?? 30 * 60_000);
    this.cached = { accessToken: parsed.access_token, expiresAt: this.now() + ttl, response: parsed };
    return this.cached;
  }
}

export interface ClientCredentialsOptions extends OAuthCommon {
  clientId: string;
  clientSecret: SecretSource;
}

/** OAuth2 client-credentials grant (RFC 6749 §4.4), client authenticated in the form body. */
export class ClientCredentialsAuth extends OAuthTokenAuth {
  constructor(private readonly options: ClientCredentialsOptions) {
    super(options);
  }
  protected async grantBody(): Promise<Record<string, string>> {
    return {
      grant_type: 'client_credentials',
      client_id: this.options.clientId,
      client_secret: await this.options.clientSecret.get(),
      ...(this.options.scope ? { scope: this.options.scope } : {}),
    };
  }
  protected reloadSecrets(): Promise<void> {
    return this.options.clientSecret.reload();
  }
}

export interface JwtBearerOptions extends OAuthCommon {
  /** iss: the connected app's consumer key (Salesforce) or integration key (DocuSign). */
  issuer: string;
  /** sub: the user the integration acts as. */
  subject: string;
  /** aud: the authorization server ('login.salesforce.com', 'account-d.docusign.com'). */
  audience: string;
  /** PEM-encoded RSA private key. */
  privateKey: SecretSource;
  /** Assertion lifetime in seconds (Salesforce allows at most 3 minutes; DocuSign up to 1 hour). */
  assertionTtlSeconds?: number;
}

const b64url = (input: Buffer | string): string => Buffer.from(input).toString('base64url');

/** Builds and RS256-signs a JWT bearer assertion (RFC 7523). */
export function signJwtAssertion(claims: Record<string, unknown>, privateKeyPem: string): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${payload}`);
  return `${header}.${payload}.${b64url(signer.sign(privateKeyPem))}`;
}

/** OAuth2 JWT-bearer grant (RFC 7523), as Salesforce and DocuSign implement it. */
export class JwtBearerAuth extends OAuthTokenAuth {
  constructor(private readonly options: JwtBearerOptions) {
    super(options);
  }
  protected async grantBody(): Promise<Record<string, string>> {
    const iat = Math.floor(this.now() / 1000);
    const assertion = signJwtAssertion(
      {
        iss: this.options.issuer,
        sub: this.options.subject,
        aud: this.options.audience,
        iat,
        exp: iat + (this.options.assertionTtlSeconds ?? 180),
        ...(this.options.scope ? { scope: this.options.scope } : {}),
      },
      await this.options.privateKey.get(),
    );
    return { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion };
  }
  protected reloadSecrets(): Promise<void> {
    return this.options.privateKey.reload();
  }
}

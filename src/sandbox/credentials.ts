/**
 * Fixed, documented credentials the sandboxes accept. They protect nothing:
 * they exist so the adapters exercise the real auth flows (token endpoints,
 * JWT signatures, bearer tokens, HMAC keys) against the local stand-ins.
 * Never use them against a real vendor.
 */
export const SANDBOX_CLIENT_ID = 'q2c-sandbox';
export const SANDBOX_CLIENT_SECRET = 'q2c-sandbox-secret';
/** A second secret accepted alongside the first, to exercise rotation windows. */
export const SANDBOX_CLIENT_SECRET_NEXT = 'q2c-sandbox-secret-next';
export const SANDBOX_USER = 'integration@q2c.example';

/** RSA key pair for JWT-bearer grants (Salesforce, DocuSign). Public by design. */
export const SANDBOX_JWT_PRIVATE_KEY = `-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQCk1dCWozJ8GCyt
f8Voq5sbewFVoem6ZC4RODjL2yVv7fBVLPpYefzFEMZI7d2+4V7U0ftNV+tB+Jbh
ijnHwQXGRiisyQh5rCaJGQkUJweQzwQUroO0sw9/Wl8CSveal4QOKz5hAK/MsZ+H
cJvFCHPq5TMcLtR7emm7hOmTYR45hARAFq7DNs/OozwcNA6ksGrAwgDVPzfPMkA9
2k8Z3HDLAKIUlWiZVGPfe35oa3t0QCG8BzVPg7r7MqIQsRXEZbxyEqwXhn51UZ2V
U7pyoqCo3gDbYn5bdN5/56Nrp+OwPL0qMUgDmZYyownynqkJ96LqxHmlIhC4yDyo
IIIJ96mtAgMBAAECggEAAL6/r+KieImicBFXCttVuujSL3kpJZDM3YKPzSobL/eX
IcdvhUVd5WUnRE6g9TsvEs61MFsQou50/iWCD9tZQ5VvGyLYgTZMQUvl7NulTtwE
tHQ6f69ch1KZAdllZ6M+M1MyN72JTedSpYnWhmw8m+f31G2Iw9sgjbqy1Jn4iUGD
6O16QV9dmY1Xf3DZMIVqk4A0vMk/SrdEA8DuphQwyx88ATx1w8wESig1OHUuMxm5
k9hMdJxHuA30vqFdMDZutGRhSG7ZaDYqDj5Vnx5/PjgrIZgN4tjjA4fB+N4xRdZA
Y28ea3+y7TUpYrIPbVDDYe4Wnu4LH4mM0jJ+k/NFgQKBgQDQCzgytOs7FlxDT7t/
BRgv/fLTbyRa62Fn2da3Uvcs8XjYakRMPI9Q5Tuj4/v0EQCrbtILVWKPthPEoNNb
szvGcpqVg/O6oJaTB6KltaHUYfuoGnzreTZtg2t8Ss9eY8JDxmTXbnweSGVj8vfl
uF7pMKk4PaklxFYwXDz6uYtQgQKBgQDK1NTSKrUHgT01C0DtfqqCH60N3V5p/ef6
SpFlNyfp7PMMA1pmPWrpx+po9NvXgmwG+9609x4TbuFAvOVx2HVtnb+o/i4D8MDb
+EqU4uwthWT1zJ5Mwgj8LwSvHvmrFEnjTVMnrWyZ6buD/RsZaFTvkYRrg9jKeuKC
CYKB9gkDLQKBgQCzSvgDuyd+pKae2/gaX6mYsqKy1PXf5Trs5S/Gjhm3AePDntF9
YjOg4+2iMLjSflS1aaxbWBq4/5HJw1BjlvPM8reGY1GJZRxfWhUx+nadMlRPa4R8
6tmdR8U6OL69+ftRrYj6oJ0W/A1lNd+uelZRYT502a8MfUhKJTPoYD9QAQKBgQCU
KONMoeWalc0f8hh7YwsqAflnJ0zQH6hULCQIy0FcnrjrDYf7JuHx4xZXlIUB50MB
1vnXNqvBhj0EDPeNMZCVgaV+zCzQtAwsojHYj+n1VntpEQ6RAyuNCsthID8/uJJA
dztGwGeUBifzQe+Jn6xrUuBnqOezABB07H1ocVAkAQKBgQDLv6j/MxjrKy4Tgsvo
hEfWaOpISuq4JJs9FvqIY06Jrej+6XMRSTasF0FBHPJP5so2p9VHnziyiA4al87P
jW6EyQaqqQcf9y9QQEJ2jDBn7BodZq4QjCvfKS1vpYmgWBs4QBMc5LxKe2Ll3TuB
+jB0EL5FvKaRj/WpEdNdPGGruQ==
-----END PRIVATE KEY-----`;
export const SANDBOX_JWT_PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApNXQlqMyfBgsrX/FaKub
G3sBVaHpumQuETg4y9slb+3wVSz6WHn8xRDGSO3dvuFe1NH7TVfrQfiW4Yo5x8EF
xkYorMkIeawmiRkJFCcHkM8EFK6DtLMPf1pfAkr3mpeEDis+YQCvzLGfh3CbxQhz
6uUzHC7Ue3ppu4Tpk2EeOYQEQBauwzbPzqM8HDQOpLBqwMIA1T83zzJAPdpPGdxw
ywCiFJVomVRj33t+aGt7dEAhvAc1T4O6+zKiELEVxGW8chKsF4Z+dVGdlVO6cqKg
qN4A22J+W3Tef+eja6fjsDy9KjFIA5mWMqMJ8p6pCfei6sR5pSIQuMg8qCCCCfep
rQIDAQAB
-----END PUBLIC KEY-----`;

/** DocuSign account id and Connect HMAC keys (two, as during a key rotation). */
export const SANDBOX_DOCUSIGN_ACCOUNT_ID = '11111111-2222-3333-4444-555555555555';
export const SANDBOX_DOCUSIGN_HMAC_KEYS = ['q2c-sandbox-connect-key-1', 'q2c-sandbox-connect-key-2'] as const;

/** Kantata OAuth bearer tokens (current and next). */
export const SANDBOX_KANTATA_TOKENS = ['q2c-sandbox-kantata-token', 'q2c-sandbox-kantata-token-next'] as const;

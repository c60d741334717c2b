/**
 * Fixed dev/test credentials of the NetSuite sandbox (OAuth 2.0 M2M:
 * client id + certificate id + the certificate's RSA key). This key pair was
 * generated for the sandbox only and is valid nowhere else; never use it
 * against a real NetSuite account.
 */
export const NETSUITE_SANDBOX = Object.freeze({
  accountId: 'Q2C_SB1',
  clientId: 'q2c-sandbox',
  certificateId: 'q2c-sandbox-cert-1',
  privateKeyPem: `-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCUV9PTTbFSIkY5
7N7GDPw49hAFuBUT9Z75VLVr0WIT3nLtkr58rs+h/KCnvpcveZZu5MZQ9YgCrKcm
nHmGN+STJFldeMKZXRZKFWW7RYBayBTZ0Xj3NDNxCiXCHBCsQ4FyeeSlAMvt7/Hy
P+r8w8fuJHZ5XNpVPCaNA70AQK5ESXoW+8wrxAEmnldL7byPKrG6mYRIF9khMx9n
J5c5l5uNsBdGbwAJdFdXqn6RvAyg20LsR2rICSOLLjoj12yvaZ6Ktu/8Q9FjAwlE
Ean6NKZOQ6kHL0yeEiV8U/HN3dyitTamAIY1zfwpOsCIhjWMNhE+TgwksGQIktRY
FOaNh6b1AgMBAAECggEAIVMLnHvnGkbl1MxwDTjMjnVEiyxb29SBRoyvhs2ORV1j
HxionzTcIw0wAA7yQrGDSF0vae+GgudLU4KyUCMNP7raMoPW34IIaFMfO+80kvBA
st/6VzpMVhgL/Gu2mSQ/F7rnUOP5a/XLufp+7RKEPuzFCqV/zMcK+AG/eyeMnn01
iTPIgJh8YfwU7Ze+TluF/QBFNZMqtClhJWVrux8hHCBMsa4CCsz5ikFoR9v3n7kb
2sVXs3l66hEN3VTVkLkORRjLiKArD5WqiVCoPekZsDfiPjj5Ni55n7XumIpcXOTr
h4gZAdQfgsv+IRcb+m+AaGDRu7B6PNh/T1uxh8XAIQKBgQDKK2xYvB4hAelT//f0
M48WhhYDK8HX25VyPH9WEE6aySNhDivs28kzG4oe6+KawmVV4Y3R0CCfxaEoiN2O
Ig8lx+yOPojcfSt7tkpPYnLryzr5nFRkPldKFLxKQ5Cvf9Bmon16g8nJaJg0uAXn
YXmZqjuB7Yd6YfG3jNHYDDzOZQKBgQC712bWPSTI6b5prSHEq3VGvaR11kfLOSWj
qLr2UjGV5zk9/QZrpRvbCNuaIQG74RLUEMx9jw/iRsyZKr1OuTIu25XQhhERtvER
eItPl+7x+91EZiFiQ3qyie70vrgrJBI/6JnpIybE4rUVWtjzMLfYMuk7YGSDNeNM
bFbAO2LlUQKBgEeygqgtftnh3afGnV7jchlg0CmruQEehK+QuPACtH28W2muJvHH
OGGBoMg6i5Cq5FlCtpL0Jr3CztabQ0eG2KxjbIc9sjfPxD4Jde0VUwBAgNfJEzzB
xx8kn2oO8B7tSzE66xkp58Qf7eq0YJOgRAm1D4mSfXtvhNO9gyYFoQLpAoGAbxCX
r4kLnPgILDfARacTerZa7Ym7fX/Wr4PuuAI1a2sCP5LCHxfK9qGwJtvpSIt2NImS
P5M9Uw+FnfLVaBy8fVQ8qsT6hrzioO/jfzZYhB/l3rF8f7tiavp/nZq/DlMPr1X6
2wx7ueJKK8xBhtmBeoXvvbnq9GICeYd9a8AxY2ECgYEAm5RIjPpnhgqhRFnEKXMe
ypKFXNrKH2bEjZhu7R7D7iEr8NXskZX6tasMfrtvjzIdWOVShw1l4XuJ/fNw5oAV
CuXnWIsRLpWdaqAwnhibLhsmiM3aMI9imBTzWLB1pTQeIYpGQ5+7mNwPrgNoLqjI
n7686E51xtTv6rIsAj59Ei4=
-----END PRIVATE KEY-----`,
  publicKeyPem: `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlFfT002xUiJGOezexgz8
OPYQBbgVE/We+VS1a9FiE95y7ZK+fK7Pofygp76XL3mWbuTGUPWIAqynJpx5hjfk
kyRZXXjCmV0WShVlu0WAWsgU2dF49zQzcQolwhwQrEOBcnnkpQDL7e/x8j/q/MPH
7iR2eVzaVTwmjQO9AECuREl6FvvMK8QBJp5XS+28jyqxupmESBfZITMfZyeXOZeb
jbAXRm8ACXRXV6p+kbwMoNtC7EdqyAkjiy46I9dsr2meirbv/EPRYwMJRBGp+jSm
TkOpBy9MnhIlfFPxzd3corU2pgCGNc38KTrAiIY1jDYRPk4MJLBkCJLUWBTmjYem
9QIDAQAB
-----END PUBLIC KEY-----`,
  /** Deferred revenue / revenue GL accounts and the service item the sandbox setup has. */
  deferredRevenueAccountId: '2500',
  revenueAccountId: '4000',
  serviceItemId: '100',
  /** Intercompany GL accounts (internal ids; their account numbers are 1300, 4900, 5900, 2300). */
  intercompanyAccounts: Object.freeze({ receivable: '301', revenue: '491', expense: '591', payable: '231' }),
});

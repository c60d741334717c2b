import { readFile } from 'node:fs/promises';
import { ConnectorError } from '../errors';

/**
 * Where a credential comes from. `get()` returns the current value (cached);
 * `reload()` re-reads it, so a rotated secret is picked up without a restart.
 * `previous()` returns the value before the last reload that changed it, for
 * vendors that accept the old and the new credential during a rotation window.
 */
export interface SecretSource {
  readonly name: string;
  get(): Promise<string>;
  reload(): Promise<void>;
  previous(): string | undefined;
}

abstract class CachedSecret implements SecretSource {
  private current: string | undefined;
  private before: string | undefined;
  constructor(readonly name: string) {}
  protected abstract read(): Promise<string | undefined>;

  async get(): Promise<string> {
    if (this.current === undefined) await this.reload();
    if (this.current === undefined) throw new ConnectorError('CONNECTOR.SECRET_MISSING', `secret ${this.name} is not set`, { meta: { secret: this.name } });
    return this.current;
  }

  async reload(): Promise<void> {
    const value = (await this.read())?.trim();
    const next = value === '' ? undefined : value;
    if (next !== undefined && next !== this.current) {
      this.before = this.current;
      this.current = next;
    }
  }

  previous(): string | undefined {
    return this.before;
  }
}

class EnvSecret extends CachedSecret {
  constructor(
    private readonly variable: string,
    private readonly env: Readonly<Record<string, string | undefined>>,
  ) {
    super(`env:${variable}`);
  }
  protected read(): Promise<string | undefined> {
    return Promise.resolve(this.env[this.variable]);
  }
}

class FileSecret extends CachedSecret {
  constructor(private readonly file: string) {
    super(`file:${file}`);
  }
  protected async read(): Promise<string | undefined> {
    try {
      return await readFile(this.file, 'utf8');
    } catch (err) {
      throw new ConnectorError('CONNECTOR.SECRET_MISSING', `secret file ${this.file} cannot be read`, { cause: err, meta: { secret: this.name } });
    }
  }
}

class StaticSecret extends CachedSecret {
  constructor(
    private readonly value: string,
    name = 'static',
  ) {
    super(name);
  }
  protected read(): Promise<string | undefined> {
    return Promise.resolve(this.value);
  }
}

/** A secret from an environment record (pass the parsed config's env, not process.env directly). */
export const secretFromEnv = (variable: string, env: Readonly<Record<string, string | undefined>>): SecretSource => new EnvSecret(variable, env);
/** A secret mounted as a file (Kubernetes/Docker secrets); reload() re-reads the file. */
export const secretFromFile = (file: string): SecretSource => new FileSecret(file);
/** A fixed value (tests, sandbox constants). */
export const staticSecret = (value: string, name?: string): SecretSource => new StaticSecret(value, name);

/** `file:/path` reads a file, anything else is the literal value. */
export const secretFromSpec = (spec: string, name?: string): SecretSource =>
  spec.startsWith('file:') ? secretFromFile(spec.slice('file:'.length)) : staticSecret(spec, name);

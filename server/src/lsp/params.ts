import { CxrError } from '../engine/errors';

/**
 * Checks the shape of incoming request params. JSON-RPC peers are not type-checked against protocol.ts, so every
 * field is verified before it reaches the engine, and only known fields are passed on.
 */
export class Params {
  private constructor(
    private readonly method: string,
    private readonly obj: Record<string, unknown>,
  ) {}

  static of(method: string, params: unknown): Params {
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw new CxrError('INVALID_ARGUMENT', `${method} expects an object of named parameters.`, { field: null });
    }
    return new Params(method, params as Record<string, unknown>);
  }

  has(field: string): boolean {
    return this.obj[field] !== undefined && this.obj[field] !== null;
  }

  string(field: string): string {
    const v = this.obj[field];
    if (typeof v !== 'string' || v.length === 0) throw this.invalid(field, 'a non-empty string');
    return v;
  }

  optString(field: string): string | undefined {
    return this.has(field) ? this.string(field) : undefined;
  }

  stringArray(field: string): string[] {
    const v = this.obj[field];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s.length > 0)) {
      throw this.invalid(field, 'an array of non-empty strings');
    }
    return v as string[];
  }

  boolean(field: string): boolean {
    const v = this.obj[field];
    if (typeof v !== 'boolean') throw this.invalid(field, 'true or false');
    return v;
  }

  optBoolean(field: string): boolean | undefined {
    return this.has(field) ? this.boolean(field) : undefined;
  }

  optNumber(field: string): number | undefined {
    if (!this.has(field)) return undefined;
    const v = this.obj[field];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.invalid(field, 'a finite number');
    return v;
  }

  optInteger(field: string, min: number): number | undefined {
    const v = this.optNumber(field);
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw this.invalid(field, `an integer >= ${min}`);
    return v;
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    const v = this.obj[field];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw this.invalid(field, `one of ${allowed.join(', ')}`);
    return v as T;
  }

  optOneOf<T extends string>(field: string, allowed: readonly T[]): T | undefined {
    return this.has(field) ? this.oneOf(field, allowed) : undefined;
  }

  /** A nested object, checked with the same rules. */
  object(field: string): Params {
    const v = this.obj[field];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw this.invalid(field, 'an object');
    return new Params(`${this.method} ${field}`, v as Record<string, unknown>);
  }

  raw(field: string): unknown {
    return this.obj[field];
  }

  invalid(field: string, expected: string): CxrError {
    const got = this.obj[field];
    const actual = got === undefined ? 'missing' : Array.isArray(got) ? 'an array' : got === null ? 'null' : `a ${typeof got}`;
    return new CxrError('INVALID_ARGUMENT', `${this.method}: '${field}' must be ${expected} (got ${actual}).`, { field });
  }
}

// The original cluster_mgr.cnf format: one `name = value` per line, `#` starts a comment line.
// The original stops the value at the first white space and ignores the rest; we refuse such a line
// instead, because silently dropping half of a value is how a production setting gets lost.

export interface CnfEntry {
  name: string;
  value: string;
  line: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function parseCnf(text: string, file: string): CnfEntry[] {
  const entries: CnfEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const body = stripTrailingComment(raw).trim();
    if (body === '' || body.startsWith('#')) return;
    const eq = body.indexOf('=');
    if (eq <= 0) {
      throw new ConfigError(`${file}:${line}: expected "name = value", found ${JSON.stringify(raw.trim())}`);
    }
    const name = body.slice(0, eq).trim();
    const value = body.slice(eq + 1).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new ConfigError(`${file}:${line}: ${JSON.stringify(name)} is not a valid key name`);
    }
    if (/\s/.test(value)) {
      throw new ConfigError(
        `${file}:${line}: key ${name}: value ${JSON.stringify(value)} contains white space; ` +
          'values are single words (put a comment on its own line or after " #")',
      );
    }
    const prev = seen.get(name);
    if (prev !== undefined) {
      throw new ConfigError(`${file}:${line}: key ${name} is set again (first set on line ${prev})`);
    }
    seen.set(name, line);
    entries.push({ name, value, line });
  });
  return entries;
}

/** " # note" after a value is a comment; a "#" inside a value (no space before it) is kept. */
function stripTrailingComment(raw: string): string {
  const m = /\s#/.exec(raw);
  return m ? raw.slice(0, m.index) : raw;
}

// Layered configuration values shared by the manager's and the agent's loaders: the keys' defaults,
// then a cnf file, then environment variables, then `--set key=value`, each value checked by its key's
// type. Callers keep their own key tables and their own wording for an unknown key.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, parseCnf } from './cnf-file.js';
import { describeAllowed, type KeyDef, type KeyType } from './keys.js';

interface LayerKey {
  name: string;
  type: KeyType;
  default: string;
  secret?: boolean;
  notOnCommandLine?: string;
}

export interface LayerOptions {
  file: string | null;
  /** What the file is called in a read error ("config file", "agent config file"). */
  fileLabel: string;
  env?: NodeJS.ProcessEnv;
  envPrefix?: string;
  sets?: string[];
  cwd?: string;
  /** Throws the caller's error for a key it does not know. */
  requireKnown: (name: string, where: string) => void;
}

export interface Layered {
  values: Record<string, string | number | boolean>;
  sources: Record<string, string>;
  /** Resolves a path against the file's directory (or cwd without a file). */
  at: (p: string) => string;
}

export function layerValues(keys: readonly LayerKey[], o: LayerOptions): Layered {
  const byName = new Map(keys.map((k) => [k.name, k]));
  const raw = new Map<string, { value: string; source: string }>();
  for (const k of keys) raw.set(k.name, { value: k.default, source: 'default' });
  if (o.file) {
    let text: string;
    try {
      text = readFileSync(o.file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read ${o.fileLabel} ${o.file}: ${(e as Error).message}`);
    }
    for (const ent of parseCnf(text, o.file)) {
      const where = `${o.file}:${ent.line}`;
      o.requireKnown(ent.name, where);
      raw.set(ent.name, { value: ent.value, source: where });
    }
  }
  if (o.envPrefix) {
    for (const [name, value] of Object.entries(o.env ?? {})) {
      if (!name.startsWith(o.envPrefix) || value === undefined) continue;
      const key = name.slice(o.envPrefix.length).toLowerCase();
      // Only keys we know are taken from the environment; others (CLUSTER_MGR_TEST…) belong to tools.
      if (!byName.has(key)) continue;
      raw.set(key, { value, source: `environment ${name}` });
    }
  }
  for (const s of o.sets ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set ${JSON.stringify(s)}: expected key=value`);
    const key = s.slice(0, eq).trim();
    o.requireKnown(key, '--set');
    const instead = byName.get(key)?.notOnCommandLine;
    if (instead !== undefined) throw new ConfigError(`--set ${key}: refused on the command line (every local user can read it there); ${instead}`);
    // A command line is visible to every user of the machine (ps, /proc/<pid>/cmdline).
    if (byName.get(key)?.secret) {
      throw new ConfigError(`--set ${key}: a secret is never taken from the command line (others see it in ps); ` +
        'put it in the configuration file (mode 0600) or the environment');
    }
    raw.set(key, { value: s.slice(eq + 1).trim(), source: '--set' });
  }
  const values: Record<string, string | number | boolean> = {};
  const sources: Record<string, string> = {};
  for (const [name, { value, source }] of raw) {
    values[name] = convertValue(byName.get(name)!, value, source);
    sources[name] = source;
  }
  const base = o.file ? dirname(resolve(o.file)) : resolve(o.cwd ?? process.cwd());
  return { values, sources, at: (p) => (isAbsolute(p) ? p : resolve(base, p)) };
}

/** Converts and checks one value against its key's type; the error names the key, where and what is allowed. */
export function convertValue(def: Pick<KeyDef, 'name' | 'type' | 'secret'>, value: string, source: string): string | number | boolean {
  const bad = (why: string): ConfigError =>
    new ConfigError(
      `${source}: key ${def.name}: value ${JSON.stringify(def.secret ? '<redacted>' : value)} ${why}; ` +
        `allowed: ${describeAllowed(def.type)}`,
    );
  const t = def.type;
  switch (t.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(value)) throw bad('is not an integer');
      const n = Number(value);
      if (n < t.min || n > t.max) throw bad('is out of range');
      return n;
    }
    case 'enum':
      if (!t.values.includes(value)) throw bad('is not allowed');
      return value;
    case 'bool':
      if (value === 'true' || value === 'on' || value === '1') return true;
      if (value === 'false' || value === 'off' || value === '0') return false;
      throw bad('is not a boolean');
    case 'string':
      if (t.nonEmpty && value === '') throw bad('is empty');
      if (t.pattern && !t.pattern.test(value)) throw bad('is malformed');
      return value;
  }
}

// docs/api.md's job list, rendered from the definitions (src/jobs/types): `npm run docs:jobs` writes it
// between the job-types markers, and test/http/docs.test.ts checks the file still holds exactly this.
import type { FieldSpec } from '../actors/commands/paras-spec.js';
import { COMMON_ATTACHMENT, ENGINE_STEPS, type JobDefinition, type JobDefinitions, type JsonSchema } from './definition.js';

export const JOB_DOCS_START = '<!-- job-types:start -->';
export const JOB_DOCS_END = '<!-- job-types:end -->';

const PARAMETER_ERROR = 70005;

function typeOf(f: FieldSpec): string {
  switch (f.kind) {
    case 'int':
      return `int ${f.min}..${f.max}`;
    case 'enum':
      return f.values.map((v) => `\`${v}\``).join(' \\| ');
    case 'string':
      return `string ≤${f.maxLen}${f.patternHelp !== undefined ? `, ${f.patternHelp}` : ''}${f.secret === true ? ', secret' : ''}`;
    case 'host':
      return 'host name or IP';
    case 'hostList':
      return 'array of host names/IPs';
    case 'stringList':
      return `array of ≤${f.maxItems} strings, ${f.patternHelp}`;
    case 'ipPort':
      return '`"host_port"`';
    case 'idOrAll':
      return 'id or `"all"`';
    case 'list':
      return `array of 1..${f.maxItems} objects`;
  }
}

function codes(f: FieldSpec): string {
  const missing = f.missing ?? PARAMETER_ERROR;
  const list = [missing, f.bad ?? missing, ...(f.kind === 'int' && f.range !== undefined ? [f.range] : [])];
  return [...new Set(list)].join(' / ');
}

function schemaText(s: JsonSchema): string {
  const type = s.type === undefined ? '' : Array.isArray(s.type) ? s.type.join('|') : (s.type as string);
  const detail = s.enum !== undefined ? ` (${s.enum.join(' \\| ')})` : s.description !== undefined ? ` (${s.description})` : '';
  return `${type}${detail}`;
}

function section(d: JobDefinition): string[] {
  if (d.kind === 'refused') return [];
  const out = [`#### \`${d.name}\` (${d.sync ? 'sync' : 'async'})`, '', `${d.summary}. Missing \`paras\`: ${d.missingParas}.`, ''];
  const fields = Object.entries(d.paras);
  if (fields.length > 0) {
    out.push('| field | required | type | default | error (missing / bad / out of range) | meaning |', '|---|---|---|---|---|---|');
    const row = (name: string, f: FieldSpec): void => {
      const def = 'def' in f && f.def !== undefined ? `\`${f.def}\`` : '';
      out.push(`| \`${name}\` | ${f.required === true ? 'yes' : ''} | ${typeOf(f)} | ${def} | ${codes(f)} | ${f.help ?? ''} |`);
      if (f.kind === 'list') for (const [k, sub] of Object.entries(f.items)) row(`${name}[].${k}`, sub);
    };
    for (const [name, f] of fields) row(name, f);
    out.push('');
  }
  if (d.kind === 'job') {
    out.push(`Steps: ${d.steps.map((s) => `\`${s}\``).join(', ')}${d.rollback !== undefined ? ' (and a rollback)' : ''}.`);
    out.push(`Writes: ${d.writes.length > 0 ? d.writes.map((w) => `\`${w}\``).join(', ') : 'no metadata table'}.`);
  }
  const keys = Object.entries(d.attachment.keys);
  out.push(`${d.kind === 'job' ? 'get_status attachment' : 'Answer attachment'}: ${d.attachment.description}${keys.length > 0 ? ':' : '.'}`);
  for (const [k, s] of keys) out.push(`- \`${k}\`: ${schemaText(s)}`);
  out.push('');
  return out;
}

/** The block between the markers in docs/api.md. */
export function jobDocs(defs: JobDefinitions): string {
  const out: string[] = [
    'Rendered from the definitions in `src/jobs/types` (`npm run docs:jobs`; `test/http/docs.test.ts` checks',
    'it). Error numbers are the original\'s (`src/http/error-codes.ts`); 70005 where it had none. Every job\'s',
    `get_status attachment also has the common keys ${Object.keys(COMMON_ATTACHMENT).map((k) => `\`${k}\``).join(', ')};`,
    `the engine records the steps ${ENGINE_STEPS.map((s) => `\`${s}\``).join(' and ')} itself.`,
    '',
  ];
  for (const d of defs.all) if (!d.internal) out.push(...section(d));
  out.push('#### Internal types (no route)', '');
  for (const d of defs.all) if (d.internal && d.kind === 'job') out.push(`- \`${d.name}\`: ${d.summary}. Steps as \`${d.name.replace(/^internal_/, '')}\`.`);
  out.push('', '#### Refused, with the reason', '', 'Answered `failed` with 70001 and the reason; no job is created.', '', '| job type | internal | reason |', '|---|---|---|');
  for (const d of defs.all) if (d.kind === 'refused') out.push(`| \`${d.name}\` | ${d.internal ? 'yes' : ''} | ${d.refused} |`);
  return out.join('\n');
}

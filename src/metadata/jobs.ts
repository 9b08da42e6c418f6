// cluster_general_job_log rows as XPanel and get_status read them: job_info is the request JSON, memo
// a JSON object with error_code/error_info and progress, user_name as sent ('internal_user' for jobs a
// job starts). Secrets never reach the table: both texts are redacted (the original stored the compute
// password in create_cluster's memo; API reference §11.14).
import { canonicalize } from '../events/canonical.js';
import { redactSecrets } from '../log/redact.js';
import { cellText, parseTimestamp } from './codec.js';
import { DEFAULT_DATABASE, qt } from './ident.js';
import { selectRows, withSession, type Conn } from './session.js';
import type { Job, JobStatus } from './topology.js';

export const INTERNAL_USER = 'internal_user';

/** The cause recorded for an Emit request that names no user_name: a request, not an internal job. */
export const ANONYMOUS_REQUEST = 'Emit request without user_name';

/**
 * cluster_general_job_log.user_name: the request's user_name; '' for a request that sent none (the
 * original stores the envelope's value, and XPanel's operation log must still show it); internal_user
 * only for jobs the manager started itself, which the operation log hides.
 */
export function jobUserName(j: { user: string | null; system: string | null }): string | null {
  if (j.user !== null) return j.user;
  if (j.system === ANONYMOUS_REQUEST) return '';
  return j.system !== null ? INTERNAL_USER : null;
}

/** job_info is TEXT: 65,535 bytes; the text below is ASCII, so characters and bytes are the same. */
export const JOB_INFO_MAX_BYTES = 65_535;

/**
 * What job_info holds: the request envelope as compact JSON, secrets redacted, keys in alphabetical
 * order (as the original's JSON writer put them, and the same text on every member whatever order the
 * event arrived in), non-ASCII characters escaped as \uXXXX the way XPanel's PHP sends them (so the
 * utf8 column holds any nick_name, emoji included).
 */
export function jobInfoText(request: unknown): string {
  const text = JSON.stringify(canonicalize(redactSecrets(request)));
  return text.replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A memo object as compact JSON, secrets redacted. */
export function jobMemoText(memo: Record<string, unknown>): string {
  return JSON.stringify(redactSecrets(memo));
}

export interface NewJob {
  id: number;
  jobType: string;
  /** The whole request envelope as received (version, job_type, user_name, paras, ...). */
  request: unknown;
  userName: string | null;
  /** Leader-stamped time the job was accepted, epoch ms. */
  startedAt: number;
  /** related_id: '0', or the table_move_jobs id of an expand_cluster job. */
  relatedId?: string;
}

/** The row of a job just accepted: not_started, no memo yet. */
export function newJob(j: NewJob): Job {
  return {
    id: j.id,
    jobId: null,
    relatedId: j.relatedId ?? '0',
    jobType: j.jobType,
    status: 'not_started',
    memo: null,
    whenStarted: j.startedAt,
    whenEnded: null,
    jobInfo: jobInfoText(j.request),
    userName: j.userName,
  };
}

/**
 * A job's row after progress or its end. As in the original, when_ended moves with every memo update
 * (XPanel shows it as the last change), so pass the time of this update.
 */
export function updateJob(job: Job, status: JobStatus, memo: Record<string, unknown>, at: number): Job {
  return { ...job, status, memo: jobMemoText(memo), whenEnded: at };
}

/** One cluster_general_job_log row as get_status of a job the manager no longer keeps reads it. */
export interface JobRow {
  id: number;
  jobType: string;
  status: string;
  memo: string | null;
  whenStarted: number | null;
  whenEnded: number | null;
  jobInfo: string | null;
}

/** The job's row, or null when there is none (read in UTC, as the projection writes the timestamps). */
export async function readJobRow(c: Conn, id: number, db = DEFAULT_DATABASE): Promise<JobRow | null> {
  return withSession(c, { utc: true }, async () => {
    const rows = await selectRows(c, `SELECT id, job_type, status, memo, when_started, when_ended, job_info FROM ${qt(db, 'cluster_general_job_log')} WHERE id = ?`, [id]);
    const r = rows[0];
    if (r === undefined) return null;
    const ts = (raw: unknown): number | null => {
      const text = cellText(raw);
      return text === null ? null : parseTimestamp(text);
    };
    return {
      id,
      jobType: cellText(r.job_type) ?? '',
      status: cellText(r.status) ?? '',
      memo: cellText(r.memo),
      whenStarted: ts(r.when_started),
      whenEnded: ts(r.when_ended),
      jobInfo: cellText(r.job_info),
    };
  });
}

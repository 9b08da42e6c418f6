// The job engine and the job types' definitions.
export * from './engine.js';
export { JOB_DEFINITIONS } from './types/index.js';
export { JobRetention, retentionCandidates, retentionPolicy, type RetentionPolicy } from './retention.js';

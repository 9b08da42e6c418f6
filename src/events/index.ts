// src/events: the event catalog (typed, versioned), the log codec and the hash chain.
export * from './catalog.js';
export * from './envelope.js';
export * from './vocab.js';
export { checkEvent, upcast, type Checked } from './validate.js';
export { canonicalize, encodeCanonical, decodeMsgpack, isCanonical, bytesEqual, CanonicalError } from './canonical.js';
export * from './codec.js';
export * from './hashchain.js';
export { redactEvent, redactRaw, hasSecrets, REDACTED } from './redact.js';
export type { Schema, Infer, Json, Scalar } from './schema.js';

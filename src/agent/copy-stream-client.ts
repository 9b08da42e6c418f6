// The GET of a source agent's copy stream (GET /HttpService/CopyStream with a one-time ticket), as the
// agent rebuilding a node and the manager taking a backup both make it: over HTTPS verified against
// the given CA (else the system's) when the source serves TLS.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { COPY_STREAM_PATH } from './copy-source.js';

export interface CopyStreamSource {
  host: string;
  agentPort: number;
  /** From prepare_copy_source: a secret, sent only as the bearer of this request. */
  ticket: string;
  tls: boolean;
  ca?: Buffer | undefined;
  signal?: AbortSignal;
}

/** Resolves with the response (any status); `started` gets the request so a stall watch can cut it. */
export function requestCopyStream(s: CopyStreamSource, started: (r: ClientRequest) => void = () => undefined): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const opts = {
      host: s.host,
      port: s.agentPort,
      method: 'GET',
      path: COPY_STREAM_PATH,
      agent: false as const,
      headers: { authorization: `Bearer ${s.ticket}` },
      ...(s.signal !== undefined ? { signal: s.signal } : {}),
    };
    const r = s.tls ? httpsRequest({ ...opts, ...(s.ca ? { ca: s.ca } : {}) }, resolve) : httpRequest(opts, resolve);
    started(r);
    const scheme = s.tls ? 'https' : 'http';
    r.on('error', (e) => reject(new Error(`cannot reach the source agent ${s.host}:${s.agentPort} (${scheme}): ${e.message}`)));
    r.end();
  });
}

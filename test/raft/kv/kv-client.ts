// A keep-alive HTTP client for kv-demo members (and for etcd's JSON gateway, which speaks the same
// /v3/kv/put shape). Used by the real-process test and the benchmark's load generator.

import http from 'node:http';

export interface HttpResult {
  status: number;
  body: string;
}

export function postJson(agent: http.Agent, host: string, port: number, path: string, payload: string, timeoutMs = 5000): Promise<HttpResult> {
  return request(agent, host, port, 'POST', path, payload, timeoutMs);
}

export function getJson(agent: http.Agent, host: string, port: number, path: string, timeoutMs = 5000): Promise<HttpResult> {
  return request(agent, host, port, 'GET', path, null, timeoutMs);
}

function request(
  agent: http.Agent,
  host: string,
  port: number,
  method: string,
  path: string,
  payload: string | null,
  timeoutMs: number,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (payload !== null) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const req = http.request({ host, port, method, path, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path} on port ${port} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload ?? undefined);
  });
}

/** The JSON body of an etcd-style put of `key` and `value`, both base64. */
export function putBody(key: string, value: Uint8Array): string {
  return JSON.stringify({ key: Buffer.from(key, 'latin1').toString('base64'), value: Buffer.from(value).toString('base64') });
}

// HTTP front of the key-value demo: the subset of etcd's v3 JSON gateway the benchmark and the
// real-process test use (so one load generator drives both systems the same way), plus status and
// a dump of local state for checking members against each other.
//   POST /v3/kv/put    {"key": b64, "value": b64}  -> {"header": {"revision", "raft_term"}}
//   POST /v3/kv/range  {"key": b64}                -> {"kvs": [{"key", "value"}]} (linearizable)
//   GET  /status  GET /dump  GET /metrics

import http from 'node:http';
import { NotLeaderError } from '../../../src/raft/core/errors.js';
import type { KvStateMachine } from './kv-state-machine.js';
import { encodePut } from './kv-state-machine.js';
import { LeadershipLostError } from '../../../src/raft/node/errors.js';
import type { RaftNode } from '../../../src/raft/node/raft-node.js';

const MAX_BODY = 1024 * 1024;

interface Reply {
  status: number;
  body: unknown;
}

class BadRequest extends Error {}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new BadRequest(`body larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function field(body: unknown, name: string): Buffer {
  if (typeof body !== 'object' || body === null) throw new BadRequest('body must be a JSON object');
  const v = (body as Record<string, unknown>)[name];
  if (typeof v !== 'string') throw new BadRequest(`"${name}" must be a base64 string`);
  return Buffer.from(v, 'base64');
}

function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new BadRequest('body is not valid JSON');
  }
}

function errorReply(err: unknown): Reply {
  if (err instanceof BadRequest) return { status: 400, body: { error: err.message } };
  if (err instanceof NotLeaderError) {
    return {
      status: 503,
      body: { error: err.message, leader: err.leader, outcomeUnknown: err instanceof LeadershipLostError },
    };
  }
  return { status: 500, body: { error: err instanceof Error ? err.message : String(err) } };
}

export function createKvHttpServer(node: RaftNode, sm: KvStateMachine): http.Server {
  async function route(req: http.IncomingMessage): Promise<Reply> {
    const url = req.url ?? '/';
    if (req.method === 'POST' && url === '/v3/kv/range') {
      const body = parseJson(await readBody(req));
      const key = field(body, 'key').toString('latin1');
      const index = await node.readIndex();
      const v = sm.get(key);
      const kvs = v ? [{ key: Buffer.from(key, 'latin1').toString('base64'), value: Buffer.from(v).toString('base64') }] : [];
      return { status: 200, body: { header: { revision: String(index) }, kvs, count: String(kvs.length) } };
    }
    if (req.method === 'GET' && url === '/status') {
      const s = node.status();
      return {
        status: 200,
        body: { id: s.id, role: s.role, leader: s.leader, term: s.term, commit: s.commit, applied: node.applied, firstIndex: s.firstIndex, lastIndex: s.lastIndex, conf: s.conf },
      };
    }
    if (req.method === 'GET' && url === '/dump') {
      const kv: Record<string, string> = {};
      for (const [k, v] of sm.entries()) kv[k] = Buffer.from(v).toString('base64');
      return { status: 200, body: { id: node.id, applied: node.applied, kv } };
    }
    if (req.method === 'GET' && url === '/metrics') return { status: 200, body: node.metrics() };
    return { status: 404, body: { error: `no route for ${req.method ?? '?'} ${url}` } };
  }

  function send(res: http.ServerResponse, r: Reply): void {
    const payload = JSON.stringify(r.body);
    res.writeHead(r.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    res.end(payload);
  }

  // The hot path, without async functions in between: the response is written in the first
  // callback after the entry is applied (the driver yields once for exactly that).
  function put(req: http.IncomingMessage, res: http.ServerResponse): void {
    readBody(req).then(
      (buf) => {
        let data: Uint8Array;
        try {
          const body = parseJson(buf);
          data = encodePut(field(body, 'key').toString('latin1'), field(body, 'value'));
        } catch (err) {
          send(res, errorReply(err));
          return;
        }
        node.propose(data).then(
          (r) => send(res, { status: 200, body: { header: { revision: String(r.index), raft_term: String(r.term), member_id: node.id } } }),
          (err: unknown) => send(res, errorReply(err)),
        );
      },
      (err: unknown) => send(res, errorReply(err)),
    );
  }

  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/v3/kv/put') {
      put(req, res);
      return;
    }
    route(req)
      .catch(errorReply)
      .then((r) => send(res, r))
      .catch(() => res.destroy());
  });
  server.keepAliveTimeout = 60_000;
  return server;
}

// TCP transport for Raft messages between manager members.
export { TcpTransport, msgpackCodec, type MessageCodec, type TcpTransportOptions, type TransportMetrics } from './tcp-transport.js';
export type { PeerAddress, PeerMetrics } from './peer-link.js';
export { SendQueue, type DropCount, type QueuedFrame } from './send-queue.js';
export { FrameDecoder, frameHeader, FrameTooLargeError } from './frame.js';
export { PROTOCOL_VERSION } from './handshake.js';

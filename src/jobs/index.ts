// The job engine and every registered handler.
import './handlers/index.js';
export * from './engine.js';

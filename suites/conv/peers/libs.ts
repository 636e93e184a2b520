/**
 * The entry of the WebAssembly peers' bundle (peers.mjs in the peers part of the payload, built by
 * harness/peers-payload.ts with esbuild): the two libraries and nothing else. Never imported by the
 * runner bundle (the peer variants load peers.mjs at run time, after verifying its hash: suites/conv/peers/load.ts).
 */
export * as ort from 'onnxruntime-web';
export * as tf from '@tensorflow/tfjs-core';
export { setWasmPaths, setThreadsCount, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';

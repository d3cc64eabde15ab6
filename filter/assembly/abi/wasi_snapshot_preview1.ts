/**
 * The WASI functions the filter imports. NOTE: AssemblyScript names the import
 * module after this file (`wasi_snapshot_preview1`). Envoy allows randomness
 * during module start (proxy-wasm spec v0.2.1, "Randomness").
 */
export declare function random_get(bufferPtr: usize, bufferSize: usize): u32;

/**
 * Umbra's Envoy filter (proxy-wasm ABI 0.2.1, AssemblyScript 0.28).
 * The module's exports are the ABI callbacks; see `abi/exports.ts`.
 * Keep top-level code free of host calls: during module start Envoy only
 * allows logging, clock and randomness.
 */
export * from './abi/exports';

// The module's abort handler (asconfig.json `use: abort=...`) lives here.
import './abi/abort';

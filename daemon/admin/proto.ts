/**
 * Loads the admin service definition from proto/umbra/admin/v1/admin.proto
 * (with @grpc/proto-loader, at run time: no generated code).
 */

import { join } from 'node:path';
import { loadPackageDefinition, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { projectRoot } from '../platform/envoy-binary.js';

let cached: ServiceClientConstructor | undefined;

/** The generated-at-runtime client constructor; `.service` is the server definition. */
export function adminService(): ServiceClientConstructor {
  if (cached) return cached;
  const def = loadSync(join(projectRoot(), 'proto', 'umbra', 'admin', 'v1', 'admin.proto'), {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    arrays: true,
  });
  const pkg = loadPackageDefinition(def) as unknown as {
    umbra: { admin: { v1: { Admin: ServiceClientConstructor } } };
  };
  cached = pkg.umbra.admin.v1.Admin;
  return cached;
}

export function adminServiceDefinition(): ServiceDefinition {
  return adminService().service;
}

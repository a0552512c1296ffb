/**
 * The gRPC server: every service of the contract, server reflection (v1 and v1alpha, fed the raw
 * descriptor set built by `npm run generate`) and grpc.health.v1.Health.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { boundStatusInterceptor } from './status';

export interface ServiceBinding {
  name: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

export const DESCRIPTOR_PATH = join(__dirname, '../../gen/descriptor.binpb');

/** Splits a FileDescriptorSet into its raw FileDescriptorProto bytes (field 1, repeated). */
export function splitFileDescriptorSet(bytes: Uint8Array): Buffer[] {
  const reader = new BinaryReader(bytes);
  const files: Buffer[] = [];
  while (reader.pos < reader.len) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === WireType.LengthDelimited) files.push(Buffer.from(reader.bytes()));
    else reader.skip(wire);
  }
  return files;
}

function addReflection(server: grpc.Server): void {
  const fileDescriptorProtos = splitFileDescriptorSet(readFileSync(DESCRIPTOR_PATH));
  const pkgDef = { 'buf-image': { fileDescriptorProtos } } as unknown as ConstructorParameters<typeof ReflectionService>[0];
  new ReflectionService(pkgDef).addToServer(server);
}

export interface GrpcServerHandle {
  server: grpc.Server;
  health: HealthImplementation;
  port: number;
  setServing(serving: boolean): void;
  /** Stops accepting calls, lets in-flight calls finish for up to `graceMs`, then forces. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startGrpcServer(bindings: ServiceBinding[], host: string, port: number): Promise<GrpcServerHandle> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024, 'grpc.enable_channelz': 0, interceptors: [boundStatusInterceptor] });
  const statuses: Record<string, 'SERVING' | 'NOT_SERVING'> = { '': 'NOT_SERVING' };
  for (const b of bindings) {
    server.addService(b.definition, b.implementation);
    statuses[b.name] = 'NOT_SERVING';
  }
  const health = new HealthImplementation(statuses);
  health.addToServer(server);
  addReflection(server);
  const bound = await new Promise<number>((ok, ko) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? ko(err) : ok(p))),
  );
  const setServing = (serving: boolean) => {
    for (const name of Object.keys(statuses)) health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING');
  };
  const shutdown = (graceMs: number) =>
    new Promise<void>((ok) => {
      setServing(false);
      const timer = setTimeout(() => {
        server.forceShutdown();
        ok();
      }, graceMs);
      timer.unref();
      server.tryShutdown(() => {
        clearTimeout(timer);
        ok();
      });
    });
  return { server, health, port: bound, setServing, shutdown };
}

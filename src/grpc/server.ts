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
import { Codes } from '../errors';
import { META_ERRCODE, META_HTTP_STATUS, boundStatusInterceptor } from './status';

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

/** What a request deserializer returns for bytes that are not a message of its type. */
class UndecodableRequest {}

/** The INVALID_ARGUMENT status answered for a request that does not decode. */
function undecodableStatus(): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set(META_ERRCODE, Codes.BAD_JSON);
  metadata.set(META_HTTP_STATUS, '400');
  return { code: grpc.status.INVALID_ARGUMENT, details: 'The request message could not be decoded', metadata };
}

/**
 * The service with deserializers that never throw, and handlers that answer INVALID_ARGUMENT
 * (M_BAD_JSON) for a request that did not decode. grpc-js answers a throwing deserializer with
 * INTERNAL, which would blame the server for the caller's bytes. The refusal comes before
 * authentication: the credential travels in metadata, but nothing else of a call that is not a
 * message can be used.
 */
function refusingUndecodable(binding: ServiceBinding): {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
} {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, attrs] of Object.entries(binding.definition)) {
    const decode = attrs.requestDeserialize;
    definition[name] = {
      ...attrs,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch {
          return new UndecodableRequest();
        }
      },
    };
    const fn = binding.implementation[name] ?? binding.implementation[attrs.originalName ?? ''];
    if (!fn) continue;
    implementation[name] = attrs.responseStream
      ? (call: grpc.ServerWritableStream<unknown, unknown>) => {
          if (!(call.request instanceof UndecodableRequest))
            return (fn as grpc.handleServerStreamingCall<unknown, unknown>).call(binding.implementation, call);
          const status = undecodableStatus();
          call.emit('error', { ...status, name: 'Error', message: status.details });
        }
      : (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          if (!(call.request instanceof UndecodableRequest))
            return (fn as grpc.handleUnaryCall<unknown, unknown>).call(binding.implementation, call, callback);
          callback(undecodableStatus());
        };
  }
  return { definition, implementation };
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
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.enable_channelz': 0,
    interceptors: [boundStatusInterceptor],
  });
  const statuses: Record<string, 'SERVING' | 'NOT_SERVING'> = { '': 'NOT_SERVING' };
  for (const b of bindings) {
    const { definition, implementation } = refusingUndecodable(b);
    server.addService(definition, implementation);
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

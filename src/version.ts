import pkg from '../package.json';

/** This service's version, reported where Synapse reports its own. */
export const SERVER_VERSION: string = pkg.version;

/** Matrix client-server API versions whose room and admin subset this service implements. */
export const CLIENT_VERSIONS = [
  'r0.0.1',
  'r0.1.0',
  'r0.2.0',
  'r0.3.0',
  'r0.4.0',
  'r0.5.0',
  'r0.6.0',
  'r0.6.1',
  'v1.1',
  'v1.2',
  'v1.3',
  'v1.4',
  'v1.5',
  'v1.6',
  'v1.7',
  'v1.8',
  'v1.9',
  'v1.10',
  'v1.11',
];

export const UNSTABLE_FEATURES: Record<string, boolean> = { 'org.matrix.label_based_filtering': true, 'org.matrix.msc3874': true };

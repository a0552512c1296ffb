// redlock 5 beta ships its types without an `exports` types condition; re-export them under its name.
declare module 'redlock' {
  export * from 'redlock-types';
  export { default } from 'redlock-types';
}

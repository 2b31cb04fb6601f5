/** ssh2's lists of the algorithms it implements (CommonJS, untyped by @types/ssh2). */
declare module 'ssh2/lib/protocol/constants.js' {
  const constants: Record<'SUPPORTED_KEX' | 'SUPPORTED_CIPHER' | 'SUPPORTED_MAC', string[]>;
  export default constants;
}
